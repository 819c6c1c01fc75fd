/**
 * ContainerEngine over the Docker Engine API (Docker, or Podman's compat API). The only module that
 * imports dockerode; it owns the container's whole life: create (container-create.ts), attach
 * (container-streams.ts), start, feed stdin, watch limits, read the exit status, remove. It does
 * not pull images (a missing image is an error) and does not retry: classifying failures as
 * retryable is the worker's job.
 *
 * Every request is bounded in time and, while a run is in flight, the engine is pinged, so a hung
 * engine ends the run with EngineError('unresponsive') instead of leaving it waiting forever
 * (engine-liveness.ts). The bounds are options, defaulting to DEFAULT_ENGINE_TIMEOUTS.
 *
 * Per task, on Docker: create, one attach, wait (asked before start), start, remove; inspect only
 * after a failed exit, or when the engine lost the wait (readExit). Elsewhere (Podman) a second
 * attach carries stdin. Which engine it is, is asked once (GET /version).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import {
  EngineError,
  type ContainerEngine,
  type ContainerOutcome,
  type ContainerSpec,
  type RunOptions,
} from './container-engine.ts';
import { createContainer } from './container-create.ts';
import { consumeOutput, feedStdin, openStreams, type ContainerStreams } from './container-streams.ts';
import { rememberEngineKind, type EngineKind } from './engine-kind.ts';
import {
  bounded, boundedCalls, DEFAULT_ENGINE_TIMEOUTS, EngineWatch,
  type EngineCall, type EngineTimeouts, type WatchLease,
} from './engine-liveness.ts';
import { resolveEngineAddress, type EngineAddress } from './engine-socket.ts';
import { OutputCapture } from './stream-demux.ts';
import { ContainerStopper } from './container-stopper.ts';
import { describe, statusOf, toEngineError } from './engine-errors.ts';

export { DEFAULT_ENGINE_TIMEOUTS, type EngineTimeouts } from './engine-liveness.ts';

/** After a kill, how long the output stream may stay open before we stop waiting for it. */
const KILL_GRACE_MS = 5_000;
/** After a kill, how long the engine may take to report the container stopped before we give up. */
const KILL_STOP_LIMIT_MS = 30_000;
/** Ends a run's exit wait once it is no longer needed: a reason made once, as abort() would otherwise build a DOMException (and its stack) per task. */
const RUN_OVER = new Error('the run is over');

export interface DockerEngineOptions {
  readonly dockerHost?: string;
  /** Bounds on the engine's answers; each one left out is taken from DEFAULT_ENGINE_TIMEOUTS. */
  readonly timeouts?: Partial<EngineTimeouts>;
  /** Told how long each container create and start took, and whether it worked (metrics). */
  readonly observer?: ContainerOpObserver;
}

export interface ContainerOpObserver {
  containerOp(operation: 'create' | 'start', durationMs: number, ok: boolean): void;
}

interface Engine {
  readonly docker: Docker;
  readonly address: EngineAddress;
  readonly timeouts: EngineTimeouts;
  readonly watch: EngineWatch;
  readonly kind: () => Promise<EngineKind>;
  readonly observer: ContainerOpObserver | undefined;
}

export function createDockerEngine(options: DockerEngineOptions): ContainerEngine {
  const address = resolveEngineAddress(options.dockerHost);
  const docker = new Docker(
    address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port, protocol: 'http' },
  );
  const timeouts: EngineTimeouts = Object.freeze({ ...DEFAULT_ENGINE_TIMEOUTS, ...options.timeouts });
  const call = boundedCalls(timeouts.requestMs, undefined);
  // The typings omit the options both calls accept.
  const ping = (abortSignal: AbortSignal): Promise<unknown> => (docker.ping as (options: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, { abortSignal });
  const engine: Engine = {
    docker, address, timeouts, observer: options.observer,
    watch: new EngineWatch(ping, timeouts),
    kind: rememberEngineKind(() => call('asking the engine its version', (abortSignal) =>
      (docker.version as (options: { abortSignal: AbortSignal }) => Promise<unknown>).call(docker, { abortSignal }))),
  };
  return {
    run: (spec, runOptions) => runContainer(engine, spec, runOptions ?? {}),
    async ping() {
      try {
        await bounded('ping', timeouts.pingMs, undefined, ping);
      } catch (error) {
        if (error instanceof EngineError) throw error;
        throw new EngineError('unreachable', `container engine did not answer a ping: ${describe(error)}`, { cause: error });
      }
    },
    async listContainers(labels) {
      const found = await findContainers(docker, call, labels);
      return found.map(containerName);
    },
    async findContainers(labels) {
      const found = await findContainers(docker, call, labels);
      return found.map((info) => ({ id: info.Id, name: containerName(info), labels: { ...info.Labels } }));
    },
    async removeContainers(labels) {
      const found = await findContainers(docker, call, labels);
      for (const info of found) await removeContainer(docker.getContainer(info.Id), call);
      return found.length;
    },
  };
}

async function runContainer(engine: Engine, spec: ContainerSpec, options: RunOptions): Promise<ContainerOutcome> {
  const startedAt = Date.now();
  if (options.signal?.aborted === true) return neverStarted(startedAt, true);
  const lease = engine.watch.enter();
  try {
    // Every request of this run is cut short as soon as the watch declares the engine hung.
    const call = boundedCalls(engine.timeouts.requestMs, lease.signal);
    const kind = await Promise.race([engine.kind(), lease.gone])
      .catch((error: unknown) => { throw toEngineError(error, 'engine_failure', 'asking the engine its version'); });
    const id = await timed(engine, 'create', () => createContainer(engine.address, call, spec, (name) => removeContainer(engine.docker.getContainer(name), call)));
    const container = engine.docker.getContainer(id);
    let outcome: ContainerOutcome;
    try {
      outcome = await superviseContainer(engine, call, lease, container, kind, spec, options, startedAt);
    } catch (error) {
      throw await failedRun(container, call, error);
    }
    await removeContainer(container, call).catch((removeError: unknown) => {
      throw new EngineError(engineErrorReason(removeError), `the container finished but could not be removed: ${describe(removeError)}`, {
        cause: removeError, containerMayRemain: true, outcome,
      });
    });
    return outcome;
  } finally {
    lease.leave();
  }
}

/** The error a run ends with; the container must go whatever happened, and a failed removal says so. */
async function failedRun(container: Docker.Container, call: EngineCall, error: unknown): Promise<EngineError> {
  const failure = toEngineError(error, 'engine_failure', 'running the container');
  // A hung engine will not answer a removal either (it would only add its timeout): the caller
  // removes the container by its labels once the engine answers again.
  if (failure.reason === 'unresponsive') {
    return new EngineError(failure.reason, `${failure.message}; the container was not removed`, { cause: error, containerMayRemain: true });
  }
  try {
    await removeContainer(container, call);
    return failure;
  } catch (removeError) {
    return new EngineError(failure.reason, `${failure.message}; removing the container also failed`, {
      cause: new AggregateError([error, removeError]), containerMayRemain: true,
    });
  }
}

async function superviseContainer(
  engine: Engine,
  call: EngineCall,
  lease: WatchLease,
  container: Docker.Container,
  kind: EngineKind,
  spec: ContainerSpec,
  options: RunOptions,
  startedAt: number,
): Promise<ContainerOutcome> {
  const stopper = new ContainerStopper(container, call);
  const capture = new OutputCapture(spec, { onStderr: options.onStderr, onOverflow: () => stopper.request('overflow') });
  let streams: ContainerStreams | undefined;
  // Cancels the exit wait if we never get to read it (start refused, engine gone).
  const stopWaiting = new AbortController();
  const deadline = setTimeout(() => stopper.request('timeout'), spec.timeoutMs);
  const onAbort = (): void => stopper.request('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // An abort during create fired before the listener existed.
  if (options.signal?.aborted === true) onAbort();
  try {
    streams = await openStreams(engine.address, container.id, kind, { requestMs: engine.timeouts.requestMs, until: lease.signal });
    if (stopper.reason !== undefined) return buildOutcome(capture, null, stopper, kind, startedAt);
    const outputDone = consumeOutput(streams, capture);
    // Asked before start, so the exit cannot be missed however fast the program is. A wait asked
    // only after the output ended costs Podman 100-500 ms per task (see bench/RESULTS.md). It has
    // no deadline (the program may run for hours): the engine watch stands in for one.
    const exited = container.wait({ condition: 'next-exit', abortSignal: AbortSignal.any([stopWaiting.signal, lease.signal]) });
    // Read below; until then a rejection (aborted, engine gone) must not be unhandled.
    exited.catch(() => undefined);
    await timed(engine, 'start', () => startContainer(container, call));
    stopper.markStarted();
    feedStdin(streams, spec.stdin);
    await Promise.race([outputDone, stopper.failure, stopper.afterKill(KILL_GRACE_MS), lease.gone]);
    const stuck = stopper.afterKill(KILL_STOP_LIMIT_MS).then((): never => {
      throw new EngineError('engine_failure', `container ${container.id} was not reported stopped ${KILL_STOP_LIMIT_MS} ms after a kill`);
    });
    const exit = await Promise.race([readExit(container, call, exited, lease), stopper.failure, stuck, lease.gone]);
    await Promise.race([stopper.settled(), lease.gone]);
    return buildOutcome(capture, exit, stopper, kind, startedAt);
  } finally {
    clearTimeout(deadline);
    stopWaiting.abort(RUN_OVER);
    options.signal?.removeEventListener('abort', onAbort);
    streams?.close();
  }
}

/** SIGKILL's exit status: 128 + 9, from the program itself or from the engine's init passing it on. */
const KILLED_EXIT_CODE = 137;

function buildOutcome(
  capture: OutputCapture,
  exit: { exitCode: number; oomKilled: boolean } | null,
  stopper: ContainerStopper,
  kind: EngineKind,
  startedAt: number,
): ContainerOutcome {
  const reason = stopper.effectiveReason;
  // Podman 4 never sets State.OOMKilled (podman#13102; checked here on cgroup v1 with and without
  // init). Its SIGKILLs that Berth did not ask for (no stop was even requested) come from the
  // kernel's OOM killer, or from someone killing the container or the program killing itself.
  const presumedOom = kind !== 'docker' && exit?.exitCode === KILLED_EXIT_CODE && stopper.reason === undefined;
  return {
    exitCode: exit?.exitCode ?? null,
    stdout: capture.stdout,
    stderr: capture.stderr,
    stderrTruncated: capture.stderrTruncated,
    timedOut: reason === 'timeout',
    stdoutOverflow: capture.stdoutOverflow,
    oomKilled: (exit?.oomKilled ?? false) || presumedOom,
    aborted: reason === 'abort',
    durationMs: Date.now() - startedAt,
  };
}

async function timed<T>(engine: Engine, operation: 'create' | 'start', fn: () => Promise<T>): Promise<T> {
  if (engine.observer === undefined) return fn();
  const began = performance.now();
  try {
    const result = await fn();
    engine.observer.containerOp(operation, performance.now() - began, true);
    return result;
  } catch (error) {
    engine.observer.containerOp(operation, performance.now() - began, false);
    throw error;
  }
}

async function startContainer(container: Docker.Container, call: EngineCall): Promise<void> {
  try {
    await call(`starting container ${container.id}`, (abortSignal) => container.start({ abortSignal }));
  } catch (error) {
    throw toEngineError(error, 'create_failed', `starting container ${container.id}`);
  }
}

/**
 * Waits for `exited` (the container's exit, asked for before it started). A clean exit is taken
 * from the wait's answer; any other is read from inspect, which also tells an OOM kill from
 * another SIGKILL (the OOM flag matters only for a failed exit, so a clean one spares a request).
 * The output stream can end a moment before the engine records the exit, so this waits first.
 * A wait in flight when the engine's API service dies never settles (seen with Podman), and the
 * attach stream then ends as if the program had: the engine watch (lease.gone) covers that.
 * A wait can also be lost while the engine answers everything else: Podman registers a
 * `next-exit` wait when it gets to it, so one handled after a fast program already exited waits
 * for an exit that never comes (seen once in a few thousand runs). So once the output has ended
 * and the wait has not answered within EXIT_WAIT_GRACE_MS, inspect says whether the container
 * has stopped, and with what.
 */
async function readExit(
  container: Docker.Container, call: EngineCall, exited: Promise<unknown>, lease: WatchLease,
): Promise<{ exitCode: number; oomKilled: boolean }> {
  const answered = new AbortController();
  try {
    const answer = await Promise.race([
      exited.then((wait) => ({ wait: wait as { StatusCode?: unknown } | null })),
      lease.gone,
      exitFromInspect(container, call, answered.signal).then((state) => ({ state })),
    ]);
    if ('state' in answer) return answer.state;
    if (answer.wait?.StatusCode === 0) return { exitCode: 0, oomKilled: false };
    return exitOf(await inspectState(container, call));
  } catch (error) {
    throw toEngineError(error, 'engine_failure', `reading the exit status of container ${container.id}`);
  } finally {
    answered.abort(RUN_OVER);
  }
}

/** How long after the output ended the exit wait may take before inspect is asked instead, and how often then. */
const EXIT_WAIT_GRACE_MS = 2_000;
const EXIT_POLL_MS = 1_000;

/** The exit as inspect reports it once the container has stopped; asked only after EXIT_WAIT_GRACE_MS, until `answered`. */
async function exitFromInspect(container: Docker.Container, call: EngineCall, answered: AbortSignal): Promise<{ exitCode: number; oomKilled: boolean }> {
  await sleep(EXIT_WAIT_GRACE_MS, undefined, { signal: answered });
  for (;;) {
    const state = await inspectState(container, call);
    // Started before this was asked, so anything but running means it ran and stopped (Podman may say 'stopped').
    if (!state.Running) return exitOf(state);
    await sleep(EXIT_POLL_MS, undefined, { signal: answered });
  }
}

async function inspectState(container: Docker.Container, call: EngineCall): Promise<Docker.ContainerInspectInfo['State']> {
  return (await call(`inspecting container ${container.id}`, (abortSignal) => container.inspect({ abortSignal }))).State;
}

function exitOf(state: Docker.ContainerInspectInfo['State']): { exitCode: number; oomKilled: boolean } {
  return { exitCode: state.ExitCode, oomKilled: state.OOMKilled };
}

function engineErrorReason(error: unknown): EngineError['reason'] {
  return error instanceof EngineError ? error.reason : 'engine_failure';
}

function containerName(info: Docker.ContainerInfo): string {
  return (info.Names[0] ?? info.Id).replace(/^\//, '');
}

async function findContainers(docker: Docker, call: EngineCall, labels: Readonly<Record<string, string>>): Promise<Docker.ContainerInfo[]> {
  const label = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  try {
    return await call('listing containers', (abortSignal) => docker.listContainers({ all: true, filters: { label }, abortSignal }));
  } catch (error) {
    throw toEngineError(error, 'engine_failure', 'listing containers');
  }
}

/** Force-removes; 404 (already gone) and 409 (removal already in progress) count as done. */
async function removeContainer(container: Docker.Container, call: EngineCall): Promise<void> {
  try {
    await call(`removing container ${container.id}`, (abortSignal) => container.remove({ force: true, v: true, abortSignal }));
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || status === 409) return;
    throw toEngineError(error, 'engine_failure', `removing container ${container.id}`);
  }
}

function neverStarted(startedAt: number, aborted: boolean): ContainerOutcome {
  const empty = Buffer.alloc(0);
  return {
    exitCode: null, stdout: empty, stderr: empty, stderrTruncated: false, timedOut: false,
    stdoutOverflow: false, oomKilled: false, aborted, durationMs: Date.now() - startedAt,
  };
}
