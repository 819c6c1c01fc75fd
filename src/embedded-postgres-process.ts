/**
 * The PostgreSQL processes behind the embedded database: `initdb` once per cluster, then one
 * `postgres` server, both spawned here directly from the binaries' folder (optionally as another
 * user, since PostgreSQL refuses to run as root). Every failure, including a spawn that cannot even
 * start (EACCES, ENOENT), rejects with a StartupError naming what went wrong; no 'error' event is
 * left unhandled.
 *
 * The server is given its own process group, so a Ctrl-C in the terminal reaches Berth only, and
 * Berth stops the server after it has drained; it listens on 127.0.0.1 only and on no unix socket
 * (so it needs no writable socket folder). Not promised: stopping the server when Berth itself is
 * killed with SIGKILL (the next start finds it and reuses it, see embedded-postgres.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from './logger.ts';
import { describeError, StartupError } from './startup-error.ts';

/** An unprivileged account to run PostgreSQL as, when Berth runs as root. */
export interface RunAs {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** The superuser's password, written by initCluster inside the cluster folder (mode 0600). */
export const PASSWORD_FILE = 'berth-password';
export const SUPERUSER = 'postgres';

// Nothing of Berth's own environment (secrets included) reaches PostgreSQL; C keeps its messages English.
const CHILD_ENV = { LC_ALL: 'C', PATH: '/usr/bin:/bin' };
const INITDB_DEADLINE_MS = 120_000;
const START_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 30_000;
const TAIL_LINES = 30;

function spawnAs(command: string, args: readonly string[], runAs: RunAs | undefined, detached: boolean): ChildProcess {
  return spawn(command, args, {
    env: CHILD_ENV,
    // Berth's own folder may be one the other user cannot enter.
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
    detached,
    ...(runAs === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
  });
}

/** Collects a child's output line by line: each line logged at debug, the last ones kept. */
function collectOutput(child: ChildProcess, logger: Logger, source: string): { tail: string[] } {
  const tail: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      logger.debug({ [source]: line }, 'embedded postgres output');
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  return { tail };
}

/** The line that says why PostgreSQL gave up ("FATAL: …", "initdb: error: …"), else the last one. */
export function reasonIn(tail: readonly string[]): string {
  const line = tail.find((l) => /\b(FATAL|PANIC|error):/.test(l)) ?? tail.at(-1) ?? 'no output';
  return line.replace(/^.*?\b(FATAL|PANIC):\s*/, '').trim();
}

/**
 * Creates a cluster at `clusterDir` with a random superuser password. Built in a temp folder next
 * to it and renamed into place, so a cluster folder either is complete (with its password file) or
 * does not exist; when another process renames its cluster there first, that one is kept.
 */
export async function initCluster(options: { binDir: string; clusterDir: string; runAs: RunAs | undefined; logger: Logger }): Promise<void> {
  const { binDir, clusterDir, runAs, logger } = options;
  const work = `${clusterDir}.init-${randomBytes(4).toString('hex')}`;
  await mkdir(work, { mode: 0o700 });
  try {
    const pwfile = path.join(work, PASSWORD_FILE);
    await writeFile(pwfile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    if (runAs !== undefined) {
      await chown(work, runAs.uid, runAs.gid);
      await chown(pwfile, runAs.uid, runAs.gid);
    }
    const pgdata = path.join(work, 'data');
    const args = ['-D', pgdata, '-U', SUPERUSER, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale'];
    await runToCompletion(path.join(binDir, 'initdb'), args, runAs, logger);
    await rename(pwfile, path.join(pgdata, PASSWORD_FILE));
    try {
      await rename(pgdata, clusterDir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      logger.info({ clusterDir }, 'another Berth process initialised the embedded PostgreSQL first');
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function runToCompletion(command: string, args: readonly string[], runAs: RunAs | undefined, logger: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawnAs(command, args, runAs, false);
    const { tail } = collectOutput(child, logger, 'initdb');
    const timer = setTimeout(() => child.kill('SIGKILL'), INITDB_DEADLINE_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new StartupError(`cannot run ${command}: ${describeError(error)}`, { cause: error }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new StartupError(`initdb failed (${signal ?? `exit code ${String(code)}`}): ${reasonIn(tail)}`));
    });
  });
}

export interface ServerProcess {
  readonly pid: number;
  /** Fast shutdown (SIGINT: sessions are ended, nothing committed is lost); resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `postgres` on the cluster and resolves once `ready()` answers true. Rejects with a
 * StartupError carrying PostgreSQL's own reason when the server exits first, and kills it when it
 * is not ready by the deadline.
 */
export async function startServer(options: {
  binDir: string;
  clusterDir: string;
  port: number;
  runAs: RunAs | undefined;
  logger: Logger;
  ready: () => Promise<boolean>;
}): Promise<ServerProcess> {
  const { binDir, clusterDir, port, runAs, logger } = options;
  const args = ['-D', clusterDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const child = spawnAs(path.join(binDir, 'postgres'), args, runAs, true);
  const { tail } = collectOutput(child, logger, 'postgres');
  let failure: StartupError | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      failure = new StartupError(`cannot run ${path.join(binDir, 'postgres')}: ${describeError(error)}`, { cause: error });
      resolve();
    });
    child.once('close', (code, signal) => {
      failure ??= new StartupError(`PostgreSQL stopped (${signal ?? `exit code ${String(code)}`}): ${reasonIn(tail)}`);
      resolve();
    });
  });
  // Berth exiting without stop() (an uncaught error) must not leave the server behind.
  const onExit = (): void => { child.kill('SIGINT'); };
  process.once('exit', onExit);
  const stop = async (): Promise<void> => {
    process.off('exit', onExit);
    if (child.exitCode !== null || child.signalCode !== null || failure !== undefined) return await exited;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGQUIT'), STOP_DEADLINE_MS);
    await exited;
    clearTimeout(timer);
    logger.info({ postgresPid: child.pid }, 'embedded PostgreSQL stopped');
  };

  const deadline = Date.now() + START_DEADLINE_MS;
  let stopped = false;
  void exited.then(() => { stopped = true; });
  for (;;) {
    if (stopped) {
      process.off('exit', onExit);
      throw failure ?? new StartupError('PostgreSQL stopped while starting');
    }
    if (await options.ready()) break;
    if (Date.now() > deadline) {
      await stop();
      throw new StartupError(`PostgreSQL did not accept connections within ${START_DEADLINE_MS / 1000} s: ${reasonIn(tail)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { pid: child.pid!, stop };
}
