/**
 * An in-process Berth on a fresh test database: the real app, pool, pg-boss and (optionally) a
 * worker against a real engine. Everything it opens is closed by close().
 */
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { PgBoss } from 'pg-boss';
import { apiAccessMode } from '../../src/api/api-access.ts';
import { createRateLimiter } from '../../src/rate-limits.ts';
import { buildApp } from '../../src/api/app.ts';
import { createCallbackCheck } from '../../src/callbacks/callback-check.ts';
import { createPool, type Pool } from '../../src/db.ts';
import { createLogger } from '../../src/logger.ts';
import { createMetrics } from '../../src/metrics.ts';
import { createBoss, createTaskQueue, ensureQueues } from '../../src/queue.ts';
import { createReadinessCheck, type ReadinessCheck } from '../../src/readiness.ts';
import { loadRunnersFile } from '../../src/runners/load-runners.ts';
import type { RunnersConfig } from '../../src/runners/runner.ts';
import { startTaskEvents, type TaskEvents } from '../../src/task-events.ts';
import { createScheduleService, type ScheduleService } from '../../src/tasks/schedule-service.ts';
import { createWorkflowService } from '../../src/tasks/workflow-service.ts';
import { createTaskLifecycle } from '../../src/tasks/task-lifecycle.ts';
import { createTaskService } from '../../src/tasks/task-service.ts';
import { createTaskFigures } from '../../src/tasks/task-figures.ts';
import { createTaskWatch } from '../../src/tasks/task-watch.ts';
import { createWebhookService } from '../../src/webhooks/webhook-service.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const FIXTURE_RUNNERS = fileURLToPath(new URL('../fixtures/berth.yaml', import.meta.url));

/** The secrets ${VAR} references in the fixtures name: test/fixtures/auth-runners.yaml's keys. */
export const TEST_KEYS = {
  reader: 'reader-key-0123456789abcdef',
  writer: 'writer-key-0123456789abcdef',
  scanner: 'scanner-key-0123456789abcdef',
  hooks: 'hooks-key-0123456789abcdef',
  // Only its SHA-256 is in the file.
  ops: 'ops-key-0123456789abcdef',
} as const;

export function loadFixtureRunners(file = FIXTURE_RUNNERS, options: { cronSeconds?: boolean } = {}): Promise<RunnersConfig> {
  return loadRunnersFile(file, {
    env: {
      BERTH_TEST_GREETING: 'hi from env', KEY_READER: TEST_KEYS.reader, KEY_WRITER: TEST_KEYS.writer, KEY_SCANNER: TEST_KEYS.scanner, KEY_HOOKS: TEST_KEYS.hooks,
      // Set by receiver-host.ts in files that receive callbacks.
      BERTH_TEST_RECEIVER_PORT: process.env['BERTH_TEST_RECEIVER_PORT'],
    },
    cronSeconds: options.cronSeconds ?? false,
  });
}

export const testLogger = createLogger(process.env['BERTH_TEST_LOG_LEVEL'] ?? 'silent', 'berth-test');

export interface ApiStack {
  readonly app: FastifyInstance;
  readonly pool: Pool;
  readonly boss: PgBoss;
  readonly database: TestDatabase;
  readonly runners: RunnersConfig;
  readonly events: TaskEvents;
  readonly schedules: ScheduleService;
  /** Another process's schedule service on the same database and file, as a second worker has. */
  otherScheduleService(): ScheduleService;
  close(): Promise<void>;
}

export async function startApiStack(options: {
  dockerHost?: string; bodyLimitBytes?: number; readiness?: ReadinessCheck;
  /** Another runners file (with BERTH_TEST_CRON_SECONDS's seconds field allowed when cronSeconds). */
  runnersFile?: string; cronSeconds?: boolean;
  /** Guard the API as `berth serve` would on this listening address, from the file's auth: section; omitted: open. */
  listenHost?: string;
  heldLimit?: number;
  /** Apply the file's rate limits (in PostgreSQL), as the API process does; omitted: none. */
  rateLimits?: boolean;
} = {}): Promise<ApiStack> {
  const database = await createTestDatabase();
  const pool = createPool(database.url, { max: 5 });
  pool.on('error', (error) => testLogger.warn({ err: error }, 'idle test pool connection failed'));
  const boss = createBoss(database.url, 'api');
  boss.on('error', (error) => testLogger.error({ err: error }, 'boss error'));
  await boss.start();
  await ensureQueues(boss);
  const cronSeconds = options.cronSeconds ?? false;
  const runners = await loadFixtureRunners(options.runnersFile, { cronSeconds });
  const engine = createDockerEngine({ dockerHost: options.dockerHost });
  const events = await startTaskEvents({ connectionString: database.url, logger: testLogger });
  const shutdown = new AbortController();
  const metrics = createMetrics({ runners: [...runners.runners.keys()], figures: createTaskFigures(pool) });
  const lifecycle = createTaskLifecycle({ pool, queue: createTaskQueue(boss, runners.callbacks), runners, observer: metrics });
  const checkCallback = createCallbackCheck(runners.callbacks);
  const tasks = createTaskService({ pool, lifecycle, runners, checkCallback, submissionLimitBytes: options.bodyLimitBytes ?? 1024 * 1024 });
  const watch = createTaskWatch({ pool, events, shutdown: shutdown.signal });
  const workflows = createWorkflowService({ pool, lifecycle, runners, watch, checkCallback });
  const schedules = createScheduleService({ pool, runners, tasks, workflows, logger: testLogger, cronSeconds });
  await schedules.sync();
  const app = await buildApp({
    tasks,
    webhooks: createWebhookService({ runners, tasks, workflows, observer: metrics }),
    watch,
    workflows,
    schedules,
    runners,
    readiness: options.readiness ?? createReadinessCheck({ pool, engine }),
    bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024,
    ...(options.listenHost === undefined ? {} : { access: apiAccessMode(runners.auth, options.listenHost) }),
    ...(options.heldLimit === undefined ? {} : { heldLimit: options.heldLimit }),
    ...(options.rateLimits === true ? { rateLimits: { limiter: createRateLimiter(pool), webhooks: runners.rateLimits?.webhooks } } : {}),
    metrics,
    logger: testLogger,
  });
  await app.ready();
  return {
    app, pool, boss, database, runners, events, schedules,
    otherScheduleService: () => createScheduleService({ pool, runners, tasks, workflows, logger: testLogger, cronSeconds }),
    async close() {
      shutdown.abort();
      await app.close();
      await events.close();
      await boss.stop({ graceful: false });
      await pool.end();
      await database.drop();
    },
  };
}

/** Rows in berth.tasks and jobs in pg-boss: both must stay unchanged by a rejected request. */
export async function countQueued(pool: Pool): Promise<{ tasks: number; jobs: number }> {
  const { rows } = await pool.query<{ tasks: number; jobs: number }>(
    `select (select count(*)::int from berth.tasks) as tasks,
            (select count(*)::int from pgboss.job where name = 'berth-run-task') as jobs`,
  );
  return rows[0]!;
}
