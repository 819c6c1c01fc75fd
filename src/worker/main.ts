/**
 * The worker process: takes tasks from the queue and runs them in containers, and does the
 * housekeeping (lost attempts, orphaned containers, retention).
 * Constructs its collaborators here and nowhere else; returns a handle that closes them in reverse.
 */
import { startCallbackSender } from '../callbacks/callback-sender.ts';
import type { Config } from '../config.ts';
import type { Lookup } from '../address-guard.ts';
import { createPool } from '../db.ts';
import { instanceLabel } from '../deployment.ts';
import { createDockerEngine } from '../engine/docker-engine.ts';
import type { Logger } from '../logger.ts';
import { createMetrics } from '../metrics.ts';
import { createBoss, createTaskQueue, ensureQueues, jobNoticeChannel, RUN_TASK_QUEUE } from '../queue.ts';
import { createReadinessCheck } from '../readiness.ts';
import type { RunnersConfig } from '../runners/runner.ts';
import { startTaskEvents } from '../task-events.ts';
import { createCallbackCheck } from '../callbacks/callback-check.ts';
import { createScheduleService } from '../tasks/schedule-service.ts';
import { createTaskLifecycle } from '../tasks/task-lifecycle.ts';
import { createTaskService } from '../tasks/task-service.ts';
import { createTaskWatch } from '../tasks/task-watch.ts';
import { createWorkflowService } from '../tasks/workflow-service.ts';
import { startMaintenance } from './maintenance.ts';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { startScheduleClock } from './schedule-clock.ts';
import { createRunTask } from './run-task.ts';
import { startTaskConsumer } from './task-consumer.ts';

export interface Stoppable {
  stop(): Promise<void>;
}

export async function startWorkerProcess(options: {
  config: Config;
  runners: RunnersConfig;
  databaseUrl: string;
  logger: Logger;
  /** Name resolution for callbacks; the system's by default. */
  lookup?: Lookup;
}): Promise<Stoppable> {
  const { config, runners, databaseUrl } = options;
  const logger = options.logger.child({ process: 'worker' });
  const pool = createPool(databaseUrl, { max: config.workerConcurrency + 4, applicationName: 'berth-worker' });
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  const boss = createBoss(databaseUrl, 'worker');
  boss.on('error', (error) => logger.error({ err: error }, 'queue error'));
  await boss.start();
  await ensureQueues(boss);
  const jobChannel = await jobNoticeChannel(pool);
  const events = await startTaskEvents({ connectionString: databaseUrl, logger, noticeChannels: [jobChannel] });
  // No database figures here: the API reports them (metrics.ts), so they are not counted twice.
  const metrics = createMetrics({ runners: [...runners.runners.keys()] });
  const engine = createDockerEngine({ dockerHost: config.dockerHost, observer: metrics });
  try {
    await engine.ping();
  } catch (error) {
    // Not fatal: tasks fail with engine_error (and are retried per policy) until the engine is back.
    logger.error({ err: error }, 'container engine unreachable at start');
  }
  const lifecycle = createTaskLifecycle({ pool, queue: createTaskQueue(boss, runners.callbacks), runners, observer: metrics });
  // A tick starts its task or run as a client's submission would, with the same checks.
  const checkCallback = createCallbackCheck(runners.callbacks);
  const tasks = createTaskService({ pool, lifecycle, runners, checkCallback });
  const watchShutdown = new AbortController();
  const workflows = createWorkflowService({ pool, lifecycle, runners, watch: createTaskWatch({ pool, events, shutdown: watchShutdown.signal }), checkCallback });
  const schedules = createScheduleService({ pool, runners, tasks, workflows, logger, cronSeconds: config.cronSeconds });
  let metricsServer: MetricsServer | undefined;
  try {
    // Before the worker takes work: a sync, or a metrics port, that fails stops the worker before it is half started.
    await schedules.sync();
    if (config.metricsPort !== undefined) {
      metricsServer = await startMetricsServer({
        host: config.metricsHost, port: config.metricsPort, metrics, readiness: createReadinessCheck({ pool, engine }), logger,
      });
    }
  } catch (error) {
    await metricsServer?.stop();
    await events.close();
    await boss.stop({ graceful: false });
    await pool.end();
    throw error;
  }
  const label = await instanceLabel(pool, config.instance);
  const maintenance = startMaintenance({
    pool, lifecycle, engine, logger, leaseMs: config.leaseMs, retentionMs: config.retentionMs, instanceLabel: label,
  });
  const runTask = createRunTask({ pool, lifecycle, engine, runners, logger, logLimitBytes: config.logLimitBytes, instanceLabel: label });
  const consumer = await startTaskConsumer({
    boss, lifecycle, events, runTask, concurrency: config.workerConcurrency, heartbeatMs: config.leaseMs / 5, logger,
    // A reconnect may have lost notifications: the intake asks the queue then too.
    jobNotices: {
      subscribe(listener) {
        const stopNotices = events.onNotice(jobChannel, (queue) => { if (queue === RUN_TASK_QUEUE) listener(); });
        const stopResyncs = events.onResync(listener);
        return () => { stopNotices(); stopResyncs(); };
      },
    },
  });
  await startCallbackSender({
    boss, pool, settings: runners.callbacks, logger, observer: metrics, ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
  });
  const scheduleClock = startScheduleClock({ schedules, logger });
  logger.info({ concurrency: config.workerConcurrency, runners: runners.runners.size, instance: label }, 'worker started');
  return {
    async stop() {
      await scheduleClock.stop();
      watchShutdown.abort();
      await consumer.stop(config.shutdownGraceMs);
      // Up while the worker drains, so scrapes see its last tasks end; closed before the pool its readiness uses.
      await metricsServer?.stop();
      await maintenance.stop();
      await events.close();
      await boss.stop({ graceful: true, timeout: 5_000 });
      await pool.end();
      logger.info('worker stopped');
    },
  };
}
