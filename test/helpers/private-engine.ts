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
 *   `running` with the same host PID.
 * - A container that exits while the service is down is still reaped: conmon records its exit code
 *   and runs `podman container cleanup` itself, so after start() inspect shows `exited` with the
 *   right code and its logs are still readable.
 * - What a client sees when the service dies: a hijacked attach stream simply ends (a clean EOF, as
 *   if the container had finished; it had not), an in-flight `wait` or other response is cut off
 *   mid-body, and new connections are refused.
 * - SIGTERM (the default for stop()) shuts down within about a second even with attach and wait
 *   requests in flight, and removes the socket file. SIGKILL leaves the socket file behind
 *   (connections get ECONNREFUSED); start() on the same path works either way.
 *
 * Caution: the service shares podman's lock memory (/dev/shm/libpod_lock) with every other podman
 * on the machine. A SIGKILL that lands while the service holds a container's lock (mid create,
 * start or remove) can leave that lock taken for good, and then every podman touching that
 * container hangs, the shared test engine included. Use stop({ signal: 'SIGKILL' }) only when no
 * request is in flight; SIGTERM lets podman shut down its handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
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
    // 'exit', not 'close': containers' conmon processes may hold the service's pipes open.
    let ended = '';
    exited = new Promise((resolve) => {
      service.once('exit', (code, signal) => { ended = `exited with ${String(code ?? signal)}`; resolve(); });
      service.once('error', (error) => { ended = `failed to spawn: ${error.message}`; resolve(); });
    });
    void exited.then(() => { if (child === service) child = undefined; });
    const failure = await Promise.race([
      waitForPing(socketPath, 'answering', READY_TIMEOUT_MS).then(() => undefined, (error: unknown) => String(error)),
      exited.then(() => ended),
    ]);
    if (failure === undefined) return;
    if (service.exitCode === null && service.signalCode === null) service.kill('SIGKILL');
    await exited;
    throw new Error(`private podman service at ${dockerHost} did not come up (${failure}); log:\n${log}`);
  };

  const stop = async (options: { signal?: 'SIGTERM' | 'SIGKILL' } = {}): Promise<void> => {
    const service = child;
    if (service === undefined) return;
    service.kill(options.signal ?? 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const escalated = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), EXIT_GRACE_MS);
    });
    if (await Promise.race([exited.then(() => false), escalated])) {
      service.kill('SIGKILL');
      await exited;
    }
    clearTimeout(timer);
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

/** Polls GET /_ping until it answers (or fails to), within the deadline. */
async function waitForPing(socketPath: string, until: 'answering' | 'failing', timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no ping yet';
  for (;;) {
    const result = await ping(socketPath);
    if ((result === 'ok') === (until === 'answering')) return;
    last = result;
    if (Date.now() > deadline) throw new Error(`/_ping not ${until} within ${timeoutMs} ms (last: ${last})`);
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
