/**
 * A PostgreSQL of Berth's own for a first run without DATABASE_URL: a cluster initialised once
 * (where: embedded-postgres-placement.ts), started with the process that needs it and stopped with
 * it (how: embedded-postgres-process.ts).
 *
 * The superuser password is random, made at initdb time and kept in the cluster folder (mode 0600),
 * so only who can read that folder can connect. A server already listening on the port is reused
 * only when it is this cluster's own (it accepts that password and reports this data folder): that
 * is another Berth process on the same data, say `berth serve` and `berth worker` side by side, and
 * that process stops it. Anything else on the port is refused in one sentence.
 *
 * Every failure reaches the caller as a StartupError: one sentence saying what to do.
 */
import { randomBytes } from 'node:crypto';
import { readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { placeEmbeddedPostgres } from './embedded-postgres-placement.ts';
import { initCluster, PASSWORD_FILE, startServer, SUPERUSER } from './embedded-postgres-process.ts';
import type { Logger } from './logger.ts';
import { describeError, StartupError } from './startup-error.ts';

export interface Database {
  readonly url: string;
  stop(): Promise<void>;
}

const DATABASE = 'berth';
/** Clusters made before the password was random used this one; it is replaced at their next start. */
const LEGACY_PASSWORD = 'berth';
const REUSE_DEADLINE_MS = 60_000;

type Probe = { readonly kind: 'free' | 'ours' | 'starting' } | { readonly kind: 'other'; readonly reason: string };

export async function startEmbeddedPostgres(options: { dataDir: string; port: number; logger: Logger }): Promise<Database> {
  try {
    return await start(options);
  } catch (error) {
    if (error instanceof StartupError) throw error;
    throw new StartupError(`the embedded PostgreSQL could not start (${describeError(error)}): set DATABASE_URL to use a PostgreSQL server instead`, { cause: error });
  }
}

async function start(options: { dataDir: string; port: number; logger: Logger }): Promise<Database> {
  const { port, logger } = options;
  const placement = await placeEmbeddedPostgres({ dataDir: options.dataDir, isRoot: process.getuid?.() === 0, logger });
  const { clusterDir } = placement;
  if (!(await exists(path.join(clusterDir, 'PG_VERSION')))) {
    // Before spending an initdb on it: with no cluster yet, whatever answers on the port is not ours.
    const before = await probe(port, randomBytes(16).toString('hex'), clusterDir);
    if (before.kind === 'other') throw portTaken(port, clusterDir, before.reason);
    logger.info({ clusterDir }, 'initialising the embedded PostgreSQL');
    await initCluster({ ...placement, logger }).catch((error: unknown) => { throw didNotStart(clusterDir, error); });
  }
  const secret = await readPassword(clusterDir);
  const check = (): Promise<Probe> => probe(port, secret.password, clusterDir);

  const found = await check();
  if (found.kind === 'other') throw portTaken(port, clusterDir, found.reason);
  if (found.kind !== 'free') return reuse(port, secret.password, check, logger);

  logger.info({ port, clusterDir, binDir: placement.binDir, user: placement.runAs?.name }, 'starting the embedded PostgreSQL');
  let server;
  try {
    server = await startServer({ ...placement, port, logger, ready: async () => (await check()).kind === 'ours' });
  } catch (error) {
    // Another Berth process may have started this cluster a moment before this one.
    const now = await check();
    if (now.kind === 'ours' || now.kind === 'starting') return reuse(port, secret.password, check, logger);
    throw (await runningElsewhere(clusterDir, port)) ?? didNotStart(clusterDir, error);
  }
  try {
    const password = secret.legacy ? await replaceLegacyPassword(port, clusterDir) : secret.password;
    if (secret.legacy) logger.info({ clusterDir }, 'gave the embedded PostgreSQL a random password in place of the fixed one of older Berth versions');
    const url = databaseUrl(port, password, DATABASE);
    await ensureDatabase(port, password);
    // Not `pid`: pino's own field names Berth's process.
    logger.info({ port, databaseDir: clusterDir, postgresPid: server.pid }, 'embedded PostgreSQL started');
    return { url, stop: server.stop };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function reuse(port: number, password: string, check: () => Promise<Probe>, logger: Logger): Promise<Database> {
  const deadline = Date.now() + REUSE_DEADLINE_MS;
  while ((await check()).kind !== 'ours') {
    if (Date.now() > deadline) throw new StartupError(`the embedded PostgreSQL on port ${port} did not become ready: stop the Berth process that started it and try again`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await ensureDatabase(port, password);
  logger.info({ port }, 'using the embedded PostgreSQL already running');
  return { url: databaseUrl(port, password, DATABASE), stop: async () => undefined };
}

function databaseUrl(port: number, password: string, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

function didNotStart(clusterDir: string, error: unknown): StartupError {
  return new StartupError(`the embedded PostgreSQL in ${clusterDir} did not start: ${describeError(error)} ` +
    '(LOG_LEVEL=debug shows its output); set DATABASE_URL to use another PostgreSQL server', { cause: error });
}

function portTaken(port: number, clusterDir: string, reason: string): StartupError {
  return new StartupError(`port ${port} on 127.0.0.1 is taken by a server that is not the embedded PostgreSQL of ${clusterDir} (${reason}): ` +
    'set BERTH_EMBEDDED_PG_PORT to a free port, or DATABASE_URL to use that server');
}

/** When this cluster's server runs on another port (postmaster.pid says so), the sentence saying which. */
async function runningElsewhere(clusterDir: string, port: number): Promise<StartupError | undefined> {
  const lines = (await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  const otherPort = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || otherPort === port || !isAlive(pid)) return undefined;
  return new StartupError(`the embedded PostgreSQL of ${clusterDir} is already running on port ${otherPort} (pid ${pid}): ` +
    `set BERTH_EMBEDDED_PG_PORT=${otherPort}, or stop the Berth process that started it`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readPassword(clusterDir: string): Promise<{ password: string; legacy: boolean }> {
  try {
    return { password: (await readFile(path.join(clusterDir, PASSWORD_FILE), 'utf8')).trim(), legacy: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { password: LEGACY_PASSWORD, legacy: true };
  }
}

/**
 * Who answers on the port: nobody, this cluster's server (it takes the password and reports this
 * data folder), one still starting up, or someone else. A server that trusts every connection
 * takes any password, hence the data folder check.
 */
async function probe(port: number, password: string, clusterDir: string): Promise<Probe> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres', connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ dir: string }>("select current_setting('data_directory') as dir");
    const dir = rows[0]?.dir ?? '';
    return (await samePath(dir, clusterDir)) ? { kind: 'ours' } : { kind: 'other', reason: `its data folder is ${dir}` };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ECONNREFUSED') return { kind: 'free' };
    // 57P03: the database system is starting up.
    if (code === '57P03') return { kind: 'starting' };
    return { kind: 'other', reason: describeError(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function samePath(a: string, b: string): Promise<boolean> {
  const real = (p: string) => realpath(p).catch(() => path.resolve(p));
  return (await real(a)) === (await real(b));
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl(port, password, 'postgres') });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (rowCount === 0) {
      // 42P04: another Berth process created it a moment ago.
      await admin.query(`create database ${DATABASE}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await admin.end();
  }
}

/** Gives a cluster from before random passwords one; the file is written inside the transaction that changes it. */
async function replaceLegacyPassword(port: number, clusterDir: string): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const file = path.join(clusterDir, PASSWORD_FILE);
  const admin = new pg.Client({ connectionString: databaseUrl(port, LEGACY_PASSWORD, 'postgres') });
  admin.on('error', () => undefined);
  await admin.connect();
  try {
    await admin.query('begin');
    await admin.query(`alter role ${SUPERUSER} password ${admin.escapeLiteral(password)}`);
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    await admin.query('commit');
  } catch (error) {
    await admin.query('rollback').catch(() => undefined);
    await rm(file, { force: true });
    throw error;
  } finally {
    await admin.end();
  }
  return password;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
