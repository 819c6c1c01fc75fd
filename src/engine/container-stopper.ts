/**
 * Stopping a running container for a reason of Berth's (timeout, output overflow, abort), once,
 * and knowing afterwards whether the kill is what ended it.
 */
import type Docker from 'dockerode';
import { toEngineError } from './engine-errors.ts';
import { delay, type EngineCall } from './engine-liveness.ts';

export type StopReason = 'timeout' | 'overflow' | 'abort';

/** After a refused kill: how often, and how many times, to look whether the container was exiting anyway. */
const EXITING_CHECK_MS = 200;
const EXITING_CHECKS = 10;

/**
 * Kills the container once, for the first reason given. A kill requested before the container has
 * started is held until it has (killing a created container is refused, and start would revive it).
 */
export class ContainerStopper {
  readonly #container: Docker.Container;
  readonly #call: EngineCall;
  #reason: StopReason | undefined;
  #started = false;
  /** True when a kill reached a running container (not refused because it had already exited). */
  #delivered = false;
  #kill: Promise<void> | undefined;
  #resolveKilled: () => void = () => undefined;
  #rejectFailure: (error: unknown) => void = () => undefined;
  /** Settles once a kill has been answered. */
  readonly killed = new Promise<void>((resolve) => (this.#resolveKilled = resolve));
  /** Rejects if a kill failed and the container is still running: waiting for it would hang. */
  readonly failure = new Promise<never>((_resolve, reject) => (this.#rejectFailure = reject));

  constructor(container: Docker.Container, call: EngineCall) {
    this.#container = container;
    this.#call = call;
    this.failure.catch(() => undefined);
  }

  get reason(): StopReason | undefined {
    return this.#reason;
  }

  /**
   * The reason the run was cut short, if the kill (or not starting) actually cut it short. Await
   * settled() first: Podman answers a kill only after the container is already reported exited.
   */
  get effectiveReason(): StopReason | undefined {
    return this.#delivered || !this.#started ? this.#reason : undefined;
  }

  async settled(): Promise<void> {
    await this.#kill;
  }

  /** Resolves `ms` after a kill has been answered; never, if there is no kill. */
  afterKill(ms: number): Promise<void> {
    return this.killed.then(() => delay(ms));
  }

  request(reason: StopReason): void {
    if (this.#reason !== undefined) return;
    this.#reason = reason;
    if (this.#started) this.#kill = this.#sendKill();
  }

  markStarted(): void {
    this.#started = true;
    if (this.#reason !== undefined) this.#kill = this.#sendKill();
  }

  async #sendKill(): Promise<void> {
    const id = this.#container.id;
    try {
      await this.#call(`killing container ${id}`, (abortSignal) => this.#container.kill({ signal: 'SIGKILL', abortSignal }));
      this.#delivered = true;
    } catch (error) {
      // A container that already exited is refused differently by each engine (Docker 409,
      // Podman 500 "container state improper"), so ask whether it is still running instead. One
      // that is exiting at that moment is refused too while it still reads as running (seen on
      // Podman under load), so it gets a short while to be seen stopped.
      const isRunning = () => this.#call(`inspecting container ${id}`, (abortSignal) => this.#container.inspect({ abortSignal }))
        .then((info) => info.State.Running, () => true);
      let running = await isRunning();
      for (let i = 0; running && i < EXITING_CHECKS; i += 1) {
        await delay(EXITING_CHECK_MS);
        running = await isRunning();
      }
      if (running) this.#rejectFailure(toEngineError(error, 'engine_failure', `killing container ${id}`));
    } finally {
      this.#resolveKilled();
    }
  }
}
