/**
 * Feeds jobs from the queue to runTask, several at once, and keeps every running attempt honest:
 * - heartbeats: each attempt's task row is refreshed every heartbeatMs; an attempt whose task is
 *   no longer its own (cancelled, or taken over after this worker was thought lost) is stopped;
 * - cancellation: a 'final' event for a task this worker runs stops its container at once;
 * - shutdown: stop taking jobs, let running attempts finish within the grace period, then stop
 *   them (their containers are killed and removed, and the tasks are queued again).
 */
import type { PgBoss } from 'pg-boss';
import type { Pool } from '../db.ts';
import type { Logger } from '../logger.ts';
import { RUN_TASK_QUEUE, type RunTaskJob } from '../queue.ts';
import type { RunnersConfig } from '../runners/runner.ts';
import type { TaskEvents } from '../task-events.ts';
import { heartbeat } from '../tasks/task-store.ts';
import { AttemptStopped, type RunTask } from './run-task.ts';

export interface TaskConsumer {
  /** Resolves when no attempt is running any more. */
  stop(graceMs: number): Promise<void>;
}

interface RunningAttempt {
  readonly taskId: string;
  attempt: number | undefined;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

// pg-boss needs a limit for runners without one; this is "no limit" in practice.
const UNLIMITED = 1_000_000;

export async function startTaskConsumer(deps: {
  boss: PgBoss;
  pool: Pool;
  events: TaskEvents;
  runTask: RunTask;
  runners: RunnersConfig;
  concurrency: number;
  heartbeatMs: number;
  logger: Logger;
}): Promise<TaskConsumer> {
  // Keyed by job: a stale job for a task this worker already runs must not displace its entry.
  const running = new Map<string, RunningAttempt>();
  const stopAttempt = (taskId: string, reason: AttemptStopped): void => {
    for (const entry of running.values()) if (entry.taskId === taskId) entry.controller.abort(reason);
  };

  const unsubscribe = deps.events.subscribeAll((taskId, kind) => {
    if (kind === 'final') stopAttempt(taskId, new AttemptStopped('superseded', 'the task was cancelled'));
  });
  const beat = setInterval(() => void sendHeartbeats(), deps.heartbeatMs);

  async function sendHeartbeats(): Promise<void> {
    const held = [...running.values()].flatMap((r) => (r.attempt === undefined ? [] : [{ id: r.taskId, attempt: r.attempt }]));
    if (held.length === 0) return;
    try {
      const still = await heartbeat(deps.pool, held);
      for (const { id } of held) {
        if (!still.has(id)) stopAttempt(id, new AttemptStopped('superseded', 'the attempt no longer holds its task'));
      }
    } catch (error) {
      // Missed beats are survivable up to the lease; the sweeper decides beyond it.
      deps.logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  await deps.boss.work<RunTaskJob>(
    RUN_TASK_QUEUE,
    {
      localConcurrency: deps.concurrency,
      batchSize: 1,
      pollingIntervalSeconds: 2,
      // NOTIFY wakes workers for new jobs; this poll finds jobs whose runner limit has freed up.
      notifyPollingIntervalSeconds: 2,
      groupConcurrency: { default: UNLIMITED, tiers: runnerLimits(deps.runners) },
    },
    async (jobs) => {
      for (const job of jobs) {
        const controller = new AbortController();
        // pg-boss aborts job.signal when it gives up on the job; Berth aborts for its own reasons.
        const signal = AbortSignal.any([job.signal, controller.signal]);
        const entry: RunningAttempt = {
          taskId: job.data.taskId,
          attempt: undefined,
          controller,
          done: deps.runTask(job.data.taskId, job.id, signal, (attempt) => { entry.attempt = attempt; }),
        };
        running.set(job.id, entry);
        try {
          await entry.done;
        } finally {
          running.delete(job.id);
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
        for (const entry of running.values()) entry.controller.abort(new AttemptStopped('shutdown', 'worker shutting down'));
      }, graceMs);
      try {
        while (running.size > 0) await Promise.allSettled([...running.values()].map((r) => r.done));
      } finally {
        clearTimeout(timer);
        clearInterval(beat);
        unsubscribe();
      }
    },
  };
}

function runnerLimits(runners: RunnersConfig): Record<string, number> {
  return Object.fromEntries([...runners.runners.values()].flatMap((r) => (r.concurrency === undefined ? [] : [[r.name, r.concurrency]])));
}
