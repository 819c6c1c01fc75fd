/**
 * Feeds jobs from the queue to runTask, several at once, and keeps every running attempt honest:
 * - heartbeats: each attempt's task row is refreshed every heartbeatMs; an attempt whose task is
 *   no longer its own (cancelled, or taken over after this worker was thought lost) is stopped;
 * - cancellation: a 'final' event for a task this worker runs stops its container at once;
 * - shutdown: stop taking jobs, let running attempts finish within the grace period, then stop
 *   them (their containers are killed and removed, and the tasks are queued again).
 */
import type { Job, PgBoss } from 'pg-boss';
import { isDatabaseUnavailable } from '../db.ts';
import type { Logger } from '../logger.ts';
import { RUN_TASK_QUEUE, type RunTaskJob } from '../queue.ts';
import type { TaskEvents } from '../task-events.ts';
import { NotYetDue, type TaskLifecycle } from '../tasks/task-lifecycle.ts';
import { AttemptStopped, type RunTask } from './run-task.ts';

export interface TaskConsumer {
  /** Resolves when no attempt is running any more. */
  stop(graceMs: number): Promise<void>;
}

/** What a slot runs now: its job's task, or a parked task handed to it since (run-task.ts). */
interface RunningAttempt {
  taskId: string;
  attempt: number | undefined;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * How long after its job was fetched a slot still takes hand-offs. The job stays active while the
 * slot runs them, and pg-boss gives up on a job older than the runner's timeout plus two minutes
 * (task-lifecycle.ts, jobExpirySeconds): one more task must fit inside that.
 */
const HAND_OFF_WINDOW_MS = 30_000;

export async function startTaskConsumer(deps: {
  boss: PgBoss;
  lifecycle: TaskLifecycle;
  events: TaskEvents;
  runTask: RunTask;
  concurrency: number;
  heartbeatMs: number;
  logger: Logger;
}): Promise<TaskConsumer> {
  // One entry per handler, not per job id: pg-boss may hand an expired job back under the same id
  // to another slot of this worker while the first still runs (a hand-off chain can outlast it).
  const running = new Set<RunningAttempt>();
  // The reason is made only for an attempt that is here: every task's end comes by, and an Error's stack costs.
  const stopAttempt = (taskId: string, reason: () => AttemptStopped): void => {
    for (const entry of running.values()) if (entry.taskId === taskId) entry.controller.abort(reason());
  };

  const unsubscribe = deps.events.subscribeAll((taskId, kind) => {
    if (kind === 'final') stopAttempt(taskId, () => new AttemptStopped('superseded', 'the task was cancelled'));
  });
  const beat = setInterval(() => void sendHeartbeats(), deps.heartbeatMs);

  async function sendHeartbeats(): Promise<void> {
    const held = [...running.values()].flatMap((r) => (r.attempt === undefined ? [] : [{ id: r.taskId, attempt: r.attempt }]));
    if (held.length === 0) return;
    try {
      const still = await deps.lifecycle.heartbeat(held);
      for (const { id } of held) {
        if (!still.has(id)) stopAttempt(id, () => new AttemptStopped('superseded', 'the attempt no longer holds its task'));
      }
    } catch (error) {
      // Missed beats are survivable up to the lease; the sweeper decides beyond it.
      deps.logger.warn({ err: error }, 'heartbeat failed');
    }
  }

  let stopping = false;

  async function handle(job: Job<RunTaskJob>): Promise<void> {
    // Only Berth stops an attempt (cancel, lost lease, shutdown), never pg-boss: once the task is
    // claimed, the job is transport whose heartbeat or expiry says nothing about the attempt.
    const fetchedAt = Date.now();
    // Registered before the claim, so a cancel heard meanwhile stops the attempt once it starts.
    const entry: RunningAttempt = { taskId: job.data.taskId, attempt: undefined, controller: new AbortController(), done: Promise.resolve() };
    entry.done = deps.runTask(job.data.taskId, job.id, {
      claimed(taskId, attempt) {
        if (entry.attempt !== undefined || taskId !== entry.taskId) {
          // A hand-off: a new attempt of another task, with a signal of its own. One that a settle
          // begun before the shutdown brought goes straight back to the queue.
          entry.controller = new AbortController();
          entry.taskId = taskId;
          if (stopping) entry.controller.abort(new AttemptStopped('shutdown', 'worker shutting down'));
        }
        entry.attempt = attempt;
        return entry.controller.signal;
      },
      mayTakeNext: () => !stopping && Date.now() - fetchedAt < HAND_OFF_WINDOW_MS,
    });
    running.add(entry);
    try {
      await entry.done;
    } catch (error) {
      // Handled here: the job fails and pg-boss brings it back. Its task is either still queued
      // (the claim failed, or it came early) or running without heartbeats, and then the sweeper
      // takes it back.
      const level = error instanceof NotYetDue ? 'debug' : isDatabaseUnavailable(error) ? 'warn' : 'error';
      deps.logger[level]({ err: error, taskId: job.data.taskId }, 'running the task failed; its job will be retried');
      throw error;
    } finally {
      running.delete(entry);
    }
  }

  // One pg-boss worker per slot, each with its own id: a slot that has just run a job asks for
  // the next one at once (notifyWorker) instead of waiting out the poll, so a queued backlog
  // drains at the engine's pace. A fetch that finds nothing falls back to NOTIFY and the poll,
  // which finds jobs whose start time has come.
  for (let slot = 0; slot < deps.concurrency; slot += 1) {
    let workerId: string | undefined;
    workerId = await deps.boss.work<RunTaskJob>(
      RUN_TASK_QUEUE,
      { localConcurrency: 1, batchSize: 1, pollingIntervalSeconds: 2, notifyPollingIntervalSeconds: 2 },
      async ([job]) => {
        if (job === undefined) return;
        try {
          await handle(job);
        } finally {
          if (workerId !== undefined) deps.boss.notifyWorker(workerId);
        }
      },
    );
  }

  return {
    async stop(graceMs) {
      stopping = true;
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
