/**
 * Feeds jobs from the queue to runTask, several at once, and drains on shutdown: stop taking jobs,
 * let running attempts finish within the grace period, then abort them (their containers are
 * killed and removed, and the tasks are queued again).
 */
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../logger.ts';
import { RUN_TASK_QUEUE, type RunTaskJob } from '../queue.ts';
import type { RunTask } from './run-task.ts';

export interface TaskConsumer {
  /** Resolves when no attempt is running any more. */
  stop(graceMs: number): Promise<void>;
}

export async function startTaskConsumer(deps: {
  boss: PgBoss;
  runTask: RunTask;
  concurrency: number;
  logger: Logger;
}): Promise<TaskConsumer> {
  const running = new Set<Promise<void>>();
  const shutdown = new AbortController();

  await deps.boss.work<RunTaskJob>(
    RUN_TASK_QUEUE,
    { localConcurrency: deps.concurrency, batchSize: 1, pollingIntervalSeconds: 2 },
    async (jobs) => {
      for (const job of jobs) {
        // pg-boss aborts job.signal when it gives up on the job; Berth aborts on shutdown.
        const attempt = deps.runTask(job.data.taskId, AbortSignal.any([job.signal, shutdown.signal]));
        running.add(attempt);
        try {
          await attempt;
        } finally {
          running.delete(attempt);
        }
      }
    },
  );

  return {
    async stop(graceMs) {
      await deps.boss.offWork(RUN_TASK_QUEUE, { wait: false });
      if (running.size > 0) deps.logger.info({ running: running.size, graceMs }, 'waiting for running tasks');
      const timer = setTimeout(() => {
        deps.logger.warn({ running: running.size }, 'grace period over; stopping running tasks');
        shutdown.abort(new Error('worker shutting down'));
      }, graceMs);
      try {
        while (running.size > 0) await Promise.allSettled([...running]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
