/**
 * The API process: constructs its collaborators, builds the app and listens.
 * Returns a handle that stops accepting connections, ends waits and log streams, finishes
 * requests in flight, and closes.
 */
import { createCallbackCheck } from '../callbacks/callback-check.ts';
import type { Config } from '../config.ts';
import { createPool } from '../db.ts';
import { createDockerEngine } from '../engine/docker-engine.ts';
import type { Logger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { createBoss, createTaskQueue, ensureQueues } from '../queue.ts';
import { createReadinessCheck } from '../readiness.ts';
import type { RunnersConfig } from '../runners/runner.ts';
import { startTaskEvents } from '../task-events.ts';
import { createScheduleService } from '../tasks/schedule-service.ts';
import { createTaskFigures } from '../tasks/task-figures.ts';
import { createTaskLifecycle } from '../tasks/task-lifecycle.ts';
import { createTaskService } from '../tasks/task-service.ts';
import { createTaskWatch } from '../tasks/task-watch.ts';
import { createWorkflowService } from '../tasks/workflow-service.ts';
import { createWebhookService } from '../webhooks/webhook-service.ts';
import { apiAccessMode } from './api-access.ts';
import { createRateLimiter } from '../rate-limits.ts';
import { DEFAULT_RATE_LIMITS } from '../runners/rate-limit-config.ts';
import { buildApp } from './app.ts';

export async function startApiProcess(options: {
  config: Config;
  runners: RunnersConfig;
  databaseUrl: string;
  logger: Logger;
}): Promise<{ url: string; stop(): Promise<void> }> {
  const { config, runners, databaseUrl } = options;
  const logger = options.logger.child({ process: 'api' });
  // Before anything is started: listening beyond loopback without keys is refused in one sentence.
  const access = apiAccessMode(runners.auth, config.host);
  if (access.kind === 'loopback') {
    logger.warn({ host: config.host }, 'the runners file has no auth: section, so the API serves without keys, on a loopback address only');
  } else if (access.kind === 'open') {
    logger.warn({ host: config.host }, 'auth: none: the API serves without keys to anyone who can reach it');
  }
  const pool = createPool(databaseUrl, { max: 10, applicationName: 'berth-api' });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  const boss = createBoss(databaseUrl, 'api');
  boss.on('error', (error) => logger.error({ err: error }, 'queue error'));
  await boss.start();
  await ensureQueues(boss);
  const events = await startTaskEvents({ connectionString: databaseUrl, logger });
  const shutdown = new AbortController();
  const engine = config.readyzChecksEngine ? createDockerEngine({ dockerHost: config.dockerHost }) : undefined;
  // The API alone reports the database's figures: one source, the same on every replica.
  const metrics = createMetrics({
    runners: [...runners.runners.keys()], figures: createTaskFigures(pool),
    onFiguresError: (error) => logger.warn({ err: error }, 'metrics: the database figures could not be read'),
  });
  const lifecycle = createTaskLifecycle({ pool, queue: createTaskQueue(boss, runners.callbacks), runners, observer: metrics });
  const checkCallback = createCallbackCheck(runners.callbacks);
  const tasks = createTaskService({ pool, lifecycle, runners, checkCallback, submissionLimitBytes: config.bodyLimitBytes });
  const watch = createTaskWatch({ pool, events, shutdown: shutdown.signal });
  const workflows = createWorkflowService({ pool, lifecycle, runners, watch, checkCallback });
  const schedules = createScheduleService({ pool, runners, tasks, workflows, logger, cronSeconds: config.cronSeconds });
  // Every process syncs the file's schedules as it starts; workers take their ticks.
  await schedules.sync();
  const app = await buildApp({
    tasks,
    webhooks: createWebhookService({ runners, tasks, workflows, observer: metrics }),
    watch,
    workflows,
    schedules,
    runners,
    readiness: createReadinessCheck({ pool, engine }),
    metrics,
    bodyLimitBytes: config.bodyLimitBytes,
    batchBodyLimitBytes: config.batchBodyLimitBytes,
    heldLimit: config.heldLimit,
    access,
    rateLimits: { limiter: createRateLimiter(pool), webhooks: (runners.rateLimits ?? DEFAULT_RATE_LIMITS).webhooks },
    logger,
  });
  // Fastify closes the connections idle when close() starts; keep-alive connections of requests
  // still in flight then would hold the server open until their clients time out.
  app.addHook('onResponse', async () => {
    if (shutdown.signal.aborted) setImmediate(() => app.server.closeIdleConnections());
  });
  const url = await app.listen({ port: config.port, host: config.host });
  return {
    url,
    async stop() {
      // Held requests (wait=, follow=) answer now with what they have, so close() need not wait for them.
      shutdown.abort();
      await app.close();
      await events.close();
      await boss.stop({ graceful: true, timeout: 5_000 });
      await pool.end();
      logger.info('api stopped');
    },
  };
}
