/**
 * ContainerEngine over the Docker Engine API (Docker, or Podman's compat API). The only module that
 * imports dockerode; it owns the container's whole life: create, attach, start, feed stdin, watch
 * limits, read the exit status, remove. It does not pull images (a missing image is an error) and
 * does not retry: classifying failures as retryable is the worker's job.
 *
 * Attach goes through engine-socket.ts (plain node:http), not dockerode, so that exactly the input
 * bytes reach the program (dockerode #742/#777). Output and stdin use two separate
 * attach connections because Podman 4, when the container exits before reading all of its stdin,
 * writes its own "Error: write unixpacket ... broken pipe" frame into the stderr of the connection
 * that carried the stdin; with a stdin-only connection that noise lands where nobody reads it.
 * Stream flags are spelled true/false: Podman 4.3 did not treat `stdout=0` as false.
 */
import type { Socket } from 'node:net';
import Docker from 'dockerode';
import {
  EngineError,
  type ContainerEngine,
  type ContainerOutcome,
  type ContainerSpec,
  type RunOptions,
} from './container-engine.ts';
import { attachStream, resolveEngineAddress, type EngineAddress } from './engine-socket.ts';
import { OutputCapture } from './stream-demux.ts';
import { ContainerStopper, delay } from './container-stopper.ts';
import { describe, statusOf, toEngineError } from './engine-errors.ts';

/** After a kill, how long the output stream may stay open before we stop waiting for it. */
const KILL_GRACE_MS = 5_000;
/** While waiting for a container to stop, how often to check that the engine is still there. */
const ENGINE_PING_MS = 2_000;
/** After a kill, how long the engine may take to report the container stopped before we give up. */
const KILL_STOP_LIMIT_MS = 30_000;


export function createDockerEngine(options: { readonly dockerHost?: string }): ContainerEngine {
  const address = resolveEngineAddress(options.dockerHost);
  const docker = new Docker(
    address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port, protocol: 'http' },
  );
  return {
    run: (spec, runOptions) => runContainer(docker, address, spec, runOptions ?? {}),
    async ping() {
      try {
        await docker.ping();
      } catch (error) {
        throw new EngineError('unreachable', `container engine did not answer a ping: ${describe(error)}`, { cause: error });
      }
    },
    async listContainers(labels) {
      const found = await findContainers(docker, labels);
      return found.map(containerName);
    },
    async findContainers(labels) {
      const found = await findContainers(docker, labels);
      return found.map((info) => ({ id: info.Id, name: containerName(info), labels: { ...info.Labels } }));
    },
    async removeContainers(labels) {
      const found = await findContainers(docker, labels);
      for (const info of found) await removeContainer(docker.getContainer(info.Id));
      return found.length;
    },
  };
}

async function runContainer(
  docker: Docker,
  address: EngineAddress,
  spec: ContainerSpec,
  options: RunOptions,
): Promise<ContainerOutcome> {
  const startedAt = Date.now();
  if (options.signal?.aborted === true) return neverStarted(startedAt, true);
  const container = await createContainer(docker, spec);
  let outcome: ContainerOutcome;
  try {
    outcome = await superviseContainer(docker, container, address, spec, options, startedAt);
  } catch (error) {
    // The container must go whatever happened; a failed removal is reported alongside the cause.
    await removeContainer(container).catch((removeError: unknown) => {
      throw new EngineError(engineErrorReason(error), `${describe(error)}; removing the container also failed`, {
        cause: new AggregateError([error, removeError]), containerMayRemain: true,
      });
    });
    throw toEngineError(error, 'engine_failure', 'running the container');
  }
  await removeContainer(container).catch((removeError: unknown) => {
    throw new EngineError('engine_failure', `the container finished but could not be removed: ${describe(removeError)}`, {
      cause: removeError, containerMayRemain: true, outcome,
    });
  });
  return outcome;
}

async function createContainer(docker: Docker, spec: ContainerSpec): Promise<Docker.Container> {
  try {
    return await docker.createContainer({
      name: spec.name,
      Image: spec.image,
      ...(spec.command === undefined ? {} : { Cmd: [...spec.command] }),
      Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
      Labels: { ...spec.labels },
      Tty: false,
      OpenStdin: true,
      // The engine closes the program's stdin when the attached client half-closes: that is the EOF.
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        NetworkMode: spec.network,
        CapDrop: ['ALL'],
        SecurityOpt: ['no-new-privileges'],
        // Memory equal to MemorySwap means no swap, so the memory limit is a real limit.
        ...(spec.memoryBytes === undefined ? {} : { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes }),
        ...(spec.nanoCpus === undefined ? {} : { NanoCpus: spec.nanoCpus }),
        ...(spec.pids === undefined ? {} : { PidsLimit: spec.pids }),
      },
    });
  } catch (error) {
    if (statusOf(error) === 404) {
      throw new EngineError('image_not_found', `image "${spec.image}" is not present in the container engine (Berth does not pull images)`, { cause: error });
    }
    // Without an HTTP status the request died mid-way and the engine may have created it anyway.
    // Best effort: the create error is what the caller needs, and the label sweep catches leftovers.
    if (statusOf(error) === undefined) await removeContainer(docker.getContainer(spec.name)).catch(() => undefined);
    throw toEngineError(error, 'create_failed', `creating container ${spec.name}`);
  }
}

async function superviseContainer(
  docker: Docker,
  container: Docker.Container,
  address: EngineAddress,
  spec: ContainerSpec,
  options: RunOptions,
  startedAt: number,
): Promise<ContainerOutcome> {
  const stopper = new ContainerStopper(container);
  const capture = new OutputCapture(spec, { onStderr: options.onStderr, onOverflow: () => stopper.request('overflow') });
  const sockets: Socket[] = [];
  // Cancels the exit wait if we never get to read it (start refused, engine gone).
  const stopWaiting = new AbortController();
  const deadline = setTimeout(() => stopper.request('timeout'), spec.timeoutMs);
  const onAbort = (): void => stopper.request('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // An abort during create fired before the listener existed.
  if (options.signal?.aborted === true) onAbort();
  try {
    // Both attaches happen before start so no early output, or early exit, is missed.
    const outputSocket = await attach(address, container.id, 'stdin=false&stdout=true&stderr=true');
    sockets.push(outputSocket);
    const stdinSocket = await attach(address, container.id, 'stdin=true&stdout=false&stderr=false');
    sockets.push(stdinSocket);
    if (stopper.reason !== undefined) return buildOutcome(capture, null, stopper, startedAt);
    const outputDone = consumeOutput(outputSocket, capture);
    // Asked before start, so the exit cannot be missed however fast the program is. A wait asked
    // only after the output ended costs Podman 100-500 ms per task (see bench/RESULTS.md).
    const exited = container.wait({ condition: 'next-exit', abortSignal: stopWaiting.signal });
    // Read below; until then a rejection (aborted, engine gone) must not be unhandled.
    exited.catch(() => undefined);
    await startContainer(container);
    stopper.markStarted();
    feedStdin(stdinSocket, spec.stdin);
    await Promise.race([outputDone, stopper.failure, stopper.afterKill(KILL_GRACE_MS)]);
    const stuck = stopper.afterKill(KILL_STOP_LIMIT_MS).then((): never => {
      throw new EngineError('engine_failure', `container ${container.id} was not reported stopped ${KILL_STOP_LIMIT_MS} ms after a kill`);
    });
    const exit = await Promise.race([readExit(docker, container, exited), stopper.failure, stuck]);
    await stopper.settled();
    return buildOutcome(capture, exit, stopper, startedAt);
  } finally {
    clearTimeout(deadline);
    stopWaiting.abort();
    options.signal?.removeEventListener('abort', onAbort);
    for (const socket of sockets) socket.destroy();
  }
}

async function attach(address: EngineAddress, containerId: string, streams: string): Promise<Socket> {
  try {
    const socket = await attachStream(address, containerId, streams);
    // At once, so a reset between here and the first read cannot crash the process. A broken
    // connection shows up as a close; the exit status read afterwards reveals an engine in trouble.
    socket.on('error', () => undefined);
    return socket;
  } catch (error) {
    // A refusal is part of setting the container up: Podman prepares (runc-creates) the container
    // when attaching, so a command that cannot be executed is reported here rather than at start.
    throw toEngineError(error, 'create_failed', `attaching to container ${containerId}`);
  }
}

/** Writes exactly `stdin`, then half-closes so the program sees EOF. */
function feedStdin(socket: Socket, stdin: Buffer): void {
  // Never let this connection apply backpressure: Podman's conmon sends output to every attach
  // session in lockstep, so one unread session stalls the container (and even its kill).
  socket.resume();
  // EPIPE when the program exits without reading everything is expected (and ignored by attach()).
  // The write needs no timer of its own: it cannot outlive the container, bounded by the deadline.
  socket.end(stdin);
}

/** Resolves when the engine closes the stream, i.e. the container's output is finished. */
function consumeOutput(socket: Socket, capture: OutputCapture): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      try {
        capture.push(chunk);
      } catch (error) {
        socket.destroy();
        reject(new EngineError('engine_failure', `processing the container's output failed: ${describe(error)}`, { cause: error }));
      }
    });
    socket.on('close', () => resolve());
  });
}

function buildOutcome(
  capture: OutputCapture,
  exit: { exitCode: number; oomKilled: boolean } | null,
  stopper: ContainerStopper,
  startedAt: number,
): ContainerOutcome {
  const reason = stopper.effectiveReason;
  return {
    exitCode: exit?.exitCode ?? null,
    stdout: capture.stdout,
    stderr: capture.stderr,
    stderrTruncated: capture.stderrTruncated,
    timedOut: reason === 'timeout',
    stdoutOverflow: capture.stdoutOverflow,
    oomKilled: exit?.oomKilled ?? false,
    aborted: reason === 'abort',
    durationMs: Date.now() - startedAt,
  };
}

async function startContainer(container: Docker.Container): Promise<void> {
  try {
    await container.start();
  } catch (error) {
    throw toEngineError(error, 'create_failed', `starting container ${container.id}`);
  }
}

/**
 * Waits for `exited` (the container's exit, asked for before it started). A clean exit is taken
 * from the wait's answer; any other is read from inspect, which also tells an OOM kill from
 * another SIGKILL (the OOM flag matters only for a failed exit, so a clean one spares a request).
 */
async function readExit(docker: Docker, container: Docker.Container, exited: Promise<unknown>): Promise<{ exitCode: number; oomKilled: boolean }> {
  const abort = new AbortController();
  try {
    // The output stream can end a moment before the engine records the exit, so wait first.
    // A wait in flight when the engine's API service dies never settles (seen with Podman), and
    // the attach stream then ends as if the program had: so the engine is pinged meanwhile.
    const answer = await Promise.race([exited, engineGone(docker, abort.signal)]) as { StatusCode?: unknown } | null;
    if (answer?.StatusCode === 0) return { exitCode: 0, oomKilled: false };
    const info = await container.inspect();
    return { exitCode: info.State.ExitCode, oomKilled: info.State.OOMKilled };
  } catch (error) {
    throw toEngineError(error, 'engine_failure', `reading the exit status of container ${container.id}`);
  } finally {
    abort.abort();
  }
}

/** Rejects when the engine stops answering pings; never resolves. Stops pinging once `until` aborts. */
async function engineGone(docker: Docker, until: AbortSignal): Promise<never> {
  for (;;) {
    await delay(ENGINE_PING_MS);
    if (until.aborted) return new Promise<never>(() => undefined);
    await docker.ping();
  }
}

function engineErrorReason(error: unknown): EngineError['reason'] {
  return error instanceof EngineError ? error.reason : 'engine_failure';
}

function containerName(info: Docker.ContainerInfo): string {
  return (info.Names[0] ?? info.Id).replace(/^\//, '');
}

async function findContainers(docker: Docker, labels: Readonly<Record<string, string>>): Promise<Docker.ContainerInfo[]> {
  const label = Object.entries(labels).map(([key, value]) => `${key}=${value}`);
  try {
    return await docker.listContainers({ all: true, filters: { label } });
  } catch (error) {
    throw toEngineError(error, 'engine_failure', 'listing containers');
  }
}

/** Force-removes; 404 (already gone) and 409 (removal already in progress) count as done. */
async function removeContainer(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
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
