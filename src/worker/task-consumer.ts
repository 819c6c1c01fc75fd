/**
 * Feeds jobs from the queue to runTask, several at once (its own intake over pg-boss's fetch:
 * one fetch for all free slots, not a pg-boss worker per slot that each wake on every NOTIFY), and
 * keeps every running attempt honest:
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
 * How long after its job was fetched a slot still takes hand-offs. Past it, a freed slot of a
 * limited runner gives its parked task a job, which any worker may fetch, so one slot's chain does
 * not keep the runner's queue to itself for ever.
 */
const HAND_OFF_WINDOW_MS = 30_000;

/** How often the queue is asked without a NOTIFY: for jobs whose start time (a retry's, a delayed task's) has come. */
const POLL_MS = 2_000;
/** After a fetch failed (the database away, say), how long until the next. */
const FETCH_RETRY_MS = 1_000;

/** Wake-ups for the job intake. */
export interface JobNotices {
  subscribe(listener: () => void): () => void;
}

export async function startTaskConsumer(deps: {
  boss: PgBoss;
  lifecycle: TaskLifecycle;
  events: TaskEvents;
  runTask: RunTask;
  concurrency: number;
  heartbeatMs: number;
  logger: Logger;
  /** Told when run jobs may have been queued (their NOTIFY, or a reconnect that may have lost some). */
  jobNotices: JobNotices;
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
    // claimed, the job is transport, done with (completed at once, off the slot's path), and the
    // task's own lease is what counts.
    const fetchedAt = Date.now();
    let jobDone = false;
    const completeJob = (): void => {
      if (jobDone) return;
      jobDone = true;
      // A completion lost now is harmless: the job comes back after its heartbeat and finds nothing to claim.
      deps.boss.complete(RUN_TASK_QUEUE, job.id).catch((error: unknown) => deps.logger.warn({ err: error, jobId: job.id }, 'completing a run job failed'));
    };
    // Registered before the claim, so a cancel heard meanwhile stops the attempt once it starts.
    const entry: RunningAttempt = { taskId: job.data.taskId, attempt: undefined, controller: new AbortController(), done: Promise.resolve() };
    entry.done = deps.runTask(job.data.taskId, job.id, {
      claimed(taskId, attempt) {
        completeJob();
        if (entry.attempt !== undefined || taskId !== entry.taskId) {
          // A hand-off: a new attempt of another task, with a signal of its own.
          entry.controller = new AbortController();
          entry.taskId = taskId;
        }
        // Claimed after the stop began (a fetch or a settle in flight then brought it): straight back to the queue.
        if (stopping) entry.controller.abort(new AttemptStopped('shutdown', 'worker shutting down'));
        entry.attempt = attempt;
        return entry.controller.signal;
      },
      mayTakeNext: () => !stopping && Date.now() - fetchedAt < HAND_OFF_WINDOW_MS,
    });
    running.add(entry);
    try {
      await entry.done;
      completeJob();
    } catch (error) {
      // The job fails and pg-boss brings it back (RUN_JOB_RETRIES) when it was not claimed: its
      // task is still queued (the claim failed, or it came early). A claimed one is running
      // without heartbeats now, and the sweeper takes it back.
      const level = error instanceof NotYetDue ? 'debug' : isDatabaseUnavailable(error) ? 'warn' : 'error';
      deps.logger[level]({ err: error, taskId: job.data.taskId }, jobDone ? 'running the task failed' : 'running the task failed; its job will be retried');
      if (!jobDone) {
        jobDone = true;
        await deps.boss.fail(RUN_TASK_QUEUE, job.id, { message: String(error) })
          .catch((failError: unknown) => deps.logger.warn({ err: failError, jobId: job.id }, 'failing a run job failed; it comes back after its heartbeat'));
      }
    } finally {
      running.delete(entry);
    }
  }

  /*
   * Job intake: one fetch at a time for as many jobs as there are free slots, so a new job wakes
   * one fetch, not one per idle slot. A fetch that filled every free slot may have left more
   * behind, so a slot that frees asks again at once (a queued backlog drains at the engine's
   * pace); one that came back short means the queue was empty, and the next fetch waits for a
   * job's NOTIFY (on the events connection), a reconnect, or the poll, which finds jobs whose
   * start time has come.
   */
  let free = deps.concurrency;
  /** The fetch in flight, if any: stop() waits for it, since the jobs it brings start all the same. */
  let fetching: Promise<void> | undefined;
  let worthFetching = true;
  let fetchRetry: NodeJS.Timeout | undefined;

  function pump(): void {
    if (stopping || fetching !== undefined || free === 0 || !worthFetching) return;
    worthFetching = false;
    const asked = free;
    fetching = deps.boss.fetch<RunTaskJob>(RUN_TASK_QUEUE, { batchSize: asked }).then((jobs) => {
      fetching = undefined;
      // Started even while stopping: each is claimed and at once queued again (the attempt sees the stop).
      for (const job of jobs) start(job);
      if (jobs.length === asked) worthFetching = true;
      pump();
    }, (error: unknown) => {
      fetching = undefined;
      deps.logger[isDatabaseUnavailable(error) ? 'warn' : 'error']({ err: error }, 'fetching run jobs failed; trying again');
      fetchRetry = setTimeout(wake, FETCH_RETRY_MS);
    });
  }

  function start(job: Job<RunTaskJob>): void {
    free -= 1;
    void handle(job)
      .catch((error: unknown) => deps.logger.error({ err: error, jobId: job.id }, 'handling a run job failed'))
      .finally(() => {
        free += 1;
        pump();
      });
  }

  function wake(): void {
    worthFetching = true;
    pump();
  }

  const unsubscribeNotices = deps.jobNotices.subscribe(wake);
  const poll = setInterval(wake, POLL_MS);
  pump();

  return {
    async stop(graceMs) {
      stopping = true;
      clearInterval(poll);
      clearTimeout(fetchRetry);
      unsubscribeNotices();
      await fetching;
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
