/**
 * A Podman API service that one test owns, so it can kill and restart "the engine" under running
 * Berth processes without disturbing the shared engines other test files use. It is a separate
 * `podman system service --time=0 unix:///tmp/berth-podman-<random>.sock` process over podman's
 * normal storage, so every image (berth-test/busybox:1 included) and every container is the same
 * as through the shared socket; only the API process is private.
 *
 * What tests can rely on (observed with Podman 4.3.1, root, runc, cgroupfs):
 * - Running containers survive the service's death, SIGTERM or SIGKILL alike: each container's
 *   conmon is already a child of init, not of the service. After start() the container is still
 *   `running` with the same host PID (private-services.test.ts checks this).
 * - A container that exits while the service is down is still reaped: conmon records its exit code
 *   and runs `podman container cleanup` itself, so after start() inspect shows `exited` with the
 *   right code, and its logs are still readable.
 * - What clients see when the service dies: a hijacked attach stream simply ends, a clean EOF as
 *   if the container had finished (it had not); new requests fail with ENOENT after SIGTERM (the
 *   socket file is removed) or ECONNREFUSED after SIGKILL (the file stays); requests in flight fail
 *   with ECONNRESET or EPIPE. Except: a dockerode `container.wait()` in flight never settles,
 *   with either signal (every time in 4 of 4 tries; docker-modem misses a response cut mid-body),
 *   so code waiting on it needs its own deadline.
 * - SIGTERM (the default for stop()) shuts down within about a second even with attach and wait
 *   requests in flight. start() on the same path works after either signal.
 * - SIGKILL in the middle of requests can leave half-made containers that exist only in storage:
 *   invisible to `ps -a` and label filters (only `podman ps -a --external` lists them, status
 *   "Storage"), yet their names stay taken; and incomplete layers, which the next podman command
 *   deletes with a warning. The lock memory shared with every podman on the machine survives it
 *   (robust mutexes: over 40 rounds of SIGKILL under 4 concurrent create/start/wait/remove requests never
 *   wedged the shared engine). 30 such rounds with SIGTERM left only ordinary Created or Exited
 *   containers. So prefer SIGTERM, and use SIGKILL with unique container names and an `--external`
 *   aware cleanup, or while no request is in flight.
 *
 * The service process does not keep the test process alive; if a test ends without destroy(), an
 * exit hook sends it SIGTERM and removes the socket (not when a signal kills the test process).
 * Containers a test creates through the service are the test's to remove, as with the shared engines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PrivateEngine {
  /** DOCKER_HOST-style address of the private socket: unix:///tmp/berth-podman-<random>.sock. */
  readonly dockerHost: string;
  readonly socketPath: string;
  /** PID of the running service process; undefined while stopped. */
  pid(): number | undefined;
  /** The service's recent stdout+stderr (all of its runs), for failure messages. */
  logTail(): string;
  /** Kills the service (SIGTERM by default, SIGKILL after a bound) and waits until a ping fails. No-op when stopped. */
  stop(options?: { signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
  /** Starts the service on the same socket and waits until /_ping answers. No-op when running. */
  start(): Promise<void>;
  /** Stops the service and removes its socket file. */
  destroy(): Promise<void>;
}

const PODMAN = 'podman';
const READY_TIMEOUT_MS = 30_000;
/** How long a signalled service may take to exit before it is sent SIGKILL. */
const EXIT_GRACE_MS = 10_000;
const PING_TIMEOUT_MS = 1_000;
const LOG_LIMIT = 16 * 1024;

export async function startPrivatePodman(): Promise<PrivateEngine> {
  const socketPath = path.join(os.tmpdir(), `berth-podman-${randomBytes(6).toString('hex')}.sock`);
  const dockerHost = `unix://${socketPath}`;
  let log = '';
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-LOG_LIMIT);
  };
  const onExit = (): void => {
    // Last resort when the test process ends without destroy(); must be synchronous.
    child?.kill('SIGTERM');
    rmSync(socketPath, { force: true });
  };
  process.once('exit', onExit);

  const start = async (): Promise<void> => {
    if (child !== undefined) return;
    const service = spawn(PODMAN, ['system', 'service', '--time=0', dockerHost], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = service;
    service.stdout!.on('data', append);
    service.stderr!.on('data', append);
    // A test that forgets destroy() must still end; the exit hook then stops the service.
    service.unref();
    (service.stdout as Socket).unref();
    (service.stderr as Socket).unref();
    // 'exit', not 'close': the process's end is what counts; anything it spawns may inherit its pipes.
    let ended = '';
    exited = new Promise((resolve) => {
      service.once('exit', (code, signal) => { ended = `exited with ${String(code ?? signal)}`; resolve(); });
      service.once('error', (error) => { ended = `failed to spawn: ${error.message}`; resolve(); });
    });
    void exited.then(() => { if (child === service) child = undefined; });
    const probing = new AbortController();
    const failure = await Promise.race([
      waitForPing(socketPath, 'answering', READY_TIMEOUT_MS, probing.signal).then(() => undefined, (error: unknown) => String(error)),
      exited.then(() => ended),
    ]);
    probing.abort();
    if (failure === undefined) return;
    if (service.exitCode === null && service.signalCode === null) service.kill('SIGKILL');
    await exitWithin(exited, EXIT_GRACE_MS);
    throw new Error(`private podman service at ${dockerHost} did not come up (${failure}); log:\n${log}`);
  };

  const stop = async (options: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> => {
    const service = child;
    if (service === undefined) return;
    const signal = options.signal ?? 'SIGTERM';
    service.kill(signal);
    if (!(await exitWithin(exited, EXIT_GRACE_MS))) {
      service.kill('SIGKILL');
      if (!(await exitWithin(exited, EXIT_GRACE_MS))) {
        throw new Error(`private podman service ${String(service.pid)} at ${dockerHost} survived ${signal} and SIGKILL; log:\n${log}`);
      }
    }
    await waitForPing(socketPath, 'failing', READY_TIMEOUT_MS).catch((error: unknown) => {
      throw new Error(`private podman service at ${dockerHost} still answers after its process exited; log:\n${log}`, { cause: error });
    });
  };

  try {
    await start();
  } catch (error) {
    process.off('exit', onExit);
    await rm(socketPath, { force: true });
    throw error;
  }

  return {
    dockerHost,
    socketPath,
    pid: () => child?.pid,
    logTail: () => log,
    stop,
    start,
    async destroy() {
      try {
        await stop();
      } finally {
        process.off('exit', onExit);
        await rm(socketPath, { force: true });
      }
    },
  };
}

/** Resolves true once `exited` settles, false if that takes longer than `ms`. */
async function exitWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([exited.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls GET /_ping until it answers (or fails to), within the deadline; stops quietly on abort. */
async function waitForPing(socketPath: string, until: 'answering' | 'failing', timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await ping(socketPath);
    if ((result === 'ok') === (until === 'answering') || signal?.aborted === true) return;
    if (Date.now() > deadline) throw new Error(`/_ping not ${until} within ${timeoutMs} ms (last: ${result})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** 'ok' when the engine answers /_ping with 200, otherwise a description of what happened. */
function ping(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const request = http.get({ socketPath, path: '/_ping', timeout: PING_TIMEOUT_MS }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode === 200 ? 'ok' : `HTTP ${String(response.statusCode)}`));
      response.once('error', (error) => resolve(error.message));
    });
    request.once('timeout', () => request.destroy(new Error(`no answer within ${PING_TIMEOUT_MS} ms`)));
    request.once('error', (error) => resolve(error.message));
  });
}
