/**
 * The server commands: serve, worker, start, migrate, config check and key new. Reads the
 * environment and the runners file once, opens the database (embedded when DATABASE_URL is unset),
 * migrates, and starts what was asked. Loaded by cli.ts only for these commands.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Command } from '../cli-args.ts';
import { loadConfig, type Config } from '../config.ts';
import { createPool } from '../db.ts';
import { startEmbeddedPostgres, type Database } from '../embedded-postgres.ts';
import { createLogger, type Logger } from '../logger.ts';
import { migrate } from '../migrate.ts';
import { loadRunnersFile, type LoadRunnersOptions } from '../runners/load-runners.ts';
import { apiAccessMode } from '../api/api-access.ts';
import { startApiProcess } from '../api/main.ts';
import { startWorkerProcess, type Stoppable } from '../worker/main.ts';

export async function runServerCommand(command: Exclude<Command, 'healthcheck'>, runnersFile: string | undefined): Promise<number> {
  if (command === 'key new') return newKey();
  const config = loadConfig(process.env, runnersFile === undefined ? {} : { runnersFile });
  const logger = createLogger(config.logLevel, 'berth');
  switch (command) {
    case 'config check':
      return checkConfig(config);
    case 'migrate':
      return withDatabase(config, logger, async () => 0);
    case 'serve':
    case 'worker':
    case 'start':
      return serve(command, config, logger);
  }
}

/** 32 random bytes: the key for the client, and only its digest for the file, which then holds no secret. */
function newKey(): number {
  const key = `berth_${randomBytes(32).toString('base64url')}`;
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  process.stdout.write(`${key}\nsha256: "${digest}"\n`);
  return 0;
}

/** A file with problems throws a ConfigError (every problem, workflows' too), which main() prints. */
async function checkConfig(config: Config): Promise<number> {
  const { runners, workflows, schedules, auth } = await loadRunnersFile(config.runnersFile, runnersOptions(config));
  const declared = [`${runners.size} runner(s): ${[...runners.keys()].join(', ')}`];
  if (workflows !== undefined && workflows.size > 0) declared.push(`${workflows.size} workflow(s): ${[...workflows.keys()].join(', ')}`);
  if (schedules !== undefined && schedules.size > 0) declared.push(`${schedules.size} schedule(s): ${[...schedules.keys()].join(', ')}`);
  if (auth?.mode === 'keys') declared.push(`${auth.keys.length} API key(s): ${auth.keys.map((key) => key.name).join(', ')}`);
  if (auth?.mode === 'none') declared.push('auth: none (the API serves without keys)');
  process.stdout.write(`${config.runnersFile}: ok, ${declared.join('; ')}\n`);
  return 0;
}

/** How every command reads the runners file, so that `config check` judges it as `serve` will. */
function runnersOptions(config: Config): LoadRunnersOptions {
  return { env: process.env, defaultOutputBytes: config.outputLimitBytes, cronSeconds: config.cronSeconds };
}

async function openDatabase(config: Config, logger: Logger): Promise<Database> {
  if (config.databaseUrl !== undefined) return { url: config.databaseUrl, stop: async () => undefined };
  return startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPostgresPort, logger });
}

async function withDatabase(config: Config, logger: Logger, fn: (database: Database) => Promise<number>): Promise<number> {
  const database = await openDatabase(config, logger);
  try {
    const pool = createPool(database.url, { max: 1, applicationName: 'berth-migrate' });
    try {
      const ran = await migrate(pool);
      if (ran.length > 0) logger.info({ migrations: ran }, 'database migrated');
    } finally {
      await pool.end();
    }
    return await fn(database);
  } finally {
    await database.stop();
  }
}

async function serve(command: 'serve' | 'worker' | 'start', config: Config, logger: Logger): Promise<number> {
  // Validate the runners file before touching the database: a bad file must fail fast.
  const runners = await loadRunnersFile(config.runnersFile, runnersOptions(config));
  // So is an API that would listen beyond loopback without keys.
  if (command !== 'worker') apiAccessMode(runners.auth, config.host);
  return withDatabase(config, logger, async (database) => {
    const parts: Stoppable[] = [];
    const options = { config, runners, databaseUrl: database.url, logger };
    if (command !== 'serve') parts.push(await startWorkerProcess(options));
    if (command !== 'worker') {
      const api = await startApiProcess(options);
      logger.info({ url: api.url, docs: `${api.url}/docs` }, 'berth is listening');
      parts.unshift(api);
    }
    await untilSignal(logger);
    // API first (no new tasks), then the worker (drains running ones).
    for (const part of parts) await part.stop();
    return 0;
  });
}

function untilSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      process.once(signal, () => {
        logger.warn({ signal }, 'second signal; exiting now');
        process.exit(130);
      });
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
