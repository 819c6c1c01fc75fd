/**
 * Knowing that the engine still answers. A daemon that has stopped answering (hung, not stopped)
 * may still accept connections, so no request to it ever fails on its own: every request gets a
 * deadline (bounded()), and while containers run, which can legitimately take hours without a
 * byte on the wire, a shared watch pings the engine and declares it hung after a few unanswered
 * pings in a row (EngineWatch). Either way the failure is an EngineError('unresponsive').
 *
 * A connection that cannot be made at all (no socket, refused) is not a hang: the engine is gone,
 * which the watch reports at the first such ping as EngineError('unreachable').
 */
import { EngineError } from './container-engine.ts';
import { CONNECTION_FAILED_CODES, describe } from './engine-errors.ts';

export interface EngineTimeouts {
  /** Bound on one ordinary request: create, attach, start, kill, inspect, remove, list, version. */
  readonly requestMs: number;
  /** Bound on one ping. */
  readonly pingMs: number;
  /** While containers run, how long after an answered ping the next one is sent. */
  readonly pingIntervalMs: number;
  /** Unanswered pings in a row after which the engine counts as hung. */
  readonly pingMisses: number;
}

/**
 * Generous for a loaded 2-core machine, where a Podman create or start under load takes seconds:
 * a request gets a minute; a hang during a run is declared after 3 pings of 5 s went unanswered,
 * at most pingIntervalMs + 3 x pingMs = 17 s after the engine stopped answering.
 */
export const DEFAULT_ENGINE_TIMEOUTS: EngineTimeouts = Object.freeze({
  requestMs: 60_000,
  pingMs: 5_000,
  pingIntervalMs: 2_000,
  pingMisses: 3,
});

/** The error of an engine that did not answer `action` within `ms`. */
export function unresponsive(action: string, ms: number): EngineError {
  return new EngineError('unresponsive', `${action}: the container engine did not answer within ${ms} ms`);
}

/**
 * Runs one request with a deadline, cut short as well when `until` aborts (its reason is then the
 * error). `fn` must pass the signal on to the request so the connection is closed, not leaked.
 */
export async function bounded<T>(
  action: string, ms: number, until: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(unresponsive(action, ms)), ms);
  const onUntil = (): void => controller.abort(until?.reason);
  until?.addEventListener('abort', onUntil, { once: true });
  if (until?.aborted === true) onUntil();
  // Settles with the abort's reason even if the request ignored its signal.
  const aborted = new Promise<never>((_resolve, reject) => {
    const fail = (): void => reject(controller.signal.reason);
    if (controller.signal.aborted) fail();
    else controller.signal.addEventListener('abort', fail, { once: true });
  });
  try {
    return await Promise.race([fn(controller.signal), aborted]);
  } catch (error) {
    // Whatever the request library made of the abort (AbortError), the reason is what happened.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    clearTimeout(timer);
    until?.removeEventListener('abort', onUntil);
  }
}

/** One engine request, bounded in time: bounded() with the bounds and cut-off of a run applied. */
export type EngineCall = <T>(action: string, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;

export function boundedCalls(ms: number, until: AbortSignal | undefined): EngineCall {
  return (action, fn) => bounded(action, ms, until, fn);
}

/** One run's view of the watch: aborted (with the EngineError as reason) when the engine is declared hung or gone. */
export interface WatchLease {
  readonly signal: AbortSignal;
  /** Rejects with the same error; never resolves. */
  readonly gone: Promise<never>;
  leave(): void;
}

interface Watcher {
  readonly controller: AbortController;
  readonly reject: (error: EngineError) => void;
}

/**
 * Pings the engine while at least one lease is held, one ping at a time whatever the number of
 * runs (so a busy worker adds one request per interval, and a task shorter than the interval none).
 */
export class EngineWatch {
  readonly #ping: (signal: AbortSignal) => Promise<unknown>;
  readonly #timeouts: EngineTimeouts;
  readonly #watchers = new Set<Watcher>();
  #pinging = false;

  constructor(ping: (signal: AbortSignal) => Promise<unknown>, timeouts: EngineTimeouts) {
    this.#ping = ping;
    this.#timeouts = timeouts;
  }

  enter(): WatchLease {
    const controller = new AbortController();
    let reject: (error: EngineError) => void = () => undefined;
    const gone = new Promise<never>((_resolve, fail) => (reject = fail));
    gone.catch(() => undefined);
    const watcher = { controller, reject };
    this.#watchers.add(watcher);
    if (!this.#pinging) {
      this.#pinging = true;
      void this.#watch();
    }
    return { signal: controller.signal, gone, leave: () => void this.#watchers.delete(watcher) };
  }

  async #watch(): Promise<void> {
    let misses = 0;
    let lastMiss = '';
    for (;;) {
      // An unanswered ping already waited pingMs: the next one goes at once.
      if (misses === 0) await delay(this.#timeouts.pingIntervalMs);
      // Checked and cleared in the same tick as enter() reads it, so no lease is ever left unwatched.
      if (this.#watchers.size === 0) {
        this.#pinging = false;
        return;
      }
      const failure = await this.#pingOnce();
      if (failure === undefined) {
        misses = 0;
        continue;
      }
      if (failure instanceof EngineError) {
        this.#fail(failure);
        misses = 0;
        continue;
      }
      misses += 1;
      lastMiss = failure;
      if (misses >= this.#timeouts.pingMisses) {
        const { pingMs } = this.#timeouts;
        this.#fail(new EngineError('unresponsive', `the container engine stopped answering: ${misses} pings in a row failed (bound ${pingMs} ms each; last: ${lastMiss})`));
        misses = 0;
      }
    }
  }

  /** undefined when answered; an EngineError when the engine is gone; otherwise what went wrong (a miss). */
  async #pingOnce(): Promise<EngineError | string | undefined> {
    try {
      await bounded('ping', this.#timeouts.pingMs, undefined, this.#ping);
      return undefined;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === 'string' && CONNECTION_FAILED_CODES.has(code)) {
        return new EngineError('unreachable', `the container engine went away (${code})`, { cause: error });
      }
      return describe(error);
    }
  }

  #fail(error: EngineError): void {
    for (const watcher of this.#watchers) {
      watcher.controller.abort(error);
      watcher.reject(error);
    }
    this.#watchers.clear();
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
