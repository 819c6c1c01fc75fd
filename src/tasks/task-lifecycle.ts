/**
 * The one owner of a task's life. Every status change is one of the transitions of
 * task-status.ts, made here in one transaction: submit, claim, settle, interrupt, reclaim and
 * cancel. What must follow a change happens in the same transaction, in one place each:
 * - a job for every task that becomes queued (jobFor builds its options);
 * - a freed slot of a runner with a concurrency limit goes to its best parked task;
 * - a final status queues the task's callback and tells every process (afterFinal).
 * Its observer (metrics, task-observer.ts) hears of tasks submitted, started and finished once the
 * transaction that did it commits (transaction, tell), never of a change rolled back.
 *
 * Callers (the API's task service, the worker) decide *when*; this module decides *what*. Every
 * write on behalf of an attempt is fenced by that attempt (task-store.ts), so an attempt that lost
 * its claim changes nothing. What this module does not do: run containers, or judge their outcome.
 */
import { withSavepoint, withTransaction, type Pool, type PoolClient, type Queryable } from '../db.ts';
import type { EnqueueOptions, TaskQueue } from '../queue.ts';
import type { Runner, RunnersConfig } from '../runners/runner.ts';
import { publishTaskEvent, taskEventNotice } from '../task-events.ts';
import { countFailedAttempts, endAttempt } from './attempt-store.ts';
import { recordWebhookDelivery } from './delivery-store.ts';
import { recordIdempotencyKey, type Created } from './idempotency-store.ts';
import { replaceLog } from './log-store.ts';
import { recordStartedTick, type NewTick } from './schedule-store.ts';
import { isRetryable, retryDelayMs } from './retry-policy.ts';
import type { Task } from './task-schemas.ts';
import { NO_TASK_OBSERVER, type TaskObserver } from './task-observer.ts';
import { claimParkedTask, countRunning, findHandedOff, lockQueuedTask, lockRunner, parkIfFull, unparkTasks } from './runner-slot-store.ts';
import {
  cancelTask, claimTask, claimUnlimitedTask, dueLater, findLostAttempts, finishTask, finishTaskAlone, heartbeat,
  insertFailedTasks, insertTask, insertTasks, liveAttempts, lockTask, requeueTask, workflowOf,
  type AttemptResult, type ClaimedTask, type FinishedTask, type LostAttempt, type NewTask, type ScheduledStart,
} from './task-store.ts';
import { createWorkflowProgress } from './workflow-progress.ts';
import { lockRun, type LockedRun, type NewRun } from './workflow-store.ts';

export type { AttemptResult, ClaimedTask, LostAttempt, NewTask } from './task-store.ts';

/** One running attempt, as the worker or the sweeper holds it. */
export interface AttemptRef {
  readonly id: string;
  readonly runner: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  /** Known from the claim; undefined (the sweeper's view) counts as maybe. */
  readonly hasCallback?: boolean;
  /** The workflow run the task is a step of (null: none), known from the claim; undefined: look it up. */
  readonly workflowId?: string | null;
}

/** How a request to change a whole workflow run went. */
export type RunChange = 'done' | 'not_found' | 'refused';

/** How an attempt's end was recorded: superseded means it no longer held its task, and changed nothing. */
export type Settlement = 'finished' | 'retrying' | 'requeued' | 'superseded';

export interface SettleOptions {
  /** Replaces the attempt's stored log (the streamed one was incomplete). */
  readonly logTail?: Buffer;
  /**
   * The job of the worker slot that ran the attempt, offered for a hand-off: when the attempt frees
   * a slot of a limited runner, its best parked task is claimed for this slot in the same
   * transaction (returned as `next`), instead of getting a job another slot must fetch and claim.
   */
  readonly handOffJob?: string;
}

export interface Settled {
  readonly settlement: Settlement;
  /** The parked task handed to the settling slot (SettleOptions.handOffJob): the slot runs it next. */
  readonly next: ClaimedTask | null;
}

export interface SubmissionKeys {
  readonly idempotencyKey?: { readonly key: string; readonly requestHash: string };
  /** An inbound webhook delivery: a redelivery returns the task the first one created. */
  readonly delivery?: { readonly webhook: string; readonly id: string };
  /** A schedule's tick: recorded with what it starts, so a tick taken twice starts one task or run. */
  readonly tick?: NewTick;
}

/** What an earlier submission with the same keys created, and the body hash its key was recorded with (none for a webhook delivery). */
export interface Replay {
  readonly replayOf: Created;
  readonly requestHash: string | undefined;
}

export type KeyedSubmission = { readonly task: Task } | Replay;

export interface TaskLifecycle {
  /** new → queued, all or nothing; the tasks come back in the order given. */
  submit(tasks: readonly NewTask[]): Promise<Task[]>;
  /** new → queued with its keys, or the task those keys were first recorded with. */
  submitKeyed(task: NewTask, keys: SubmissionKeys): Promise<KeyedSubmission>;
  /**
   * queued → running for a new attempt; null when there is nothing to claim (final, claimed, or
   * parked for a slot). Throws NotYetDue for a task whose start time or retry is still ahead, so
   * the job comes back rather than end with its task unclaimed.
   */
  claim(taskId: string, jobId: string): Promise<ClaimedTask | null>;
  /** The attempt's result: a retry when its runner's policy allows one, else the task's end. */
  settle(ref: AttemptRef, result: AttemptResult, options?: SettleOptions): Promise<Settled>;
  /** The worker stopped the attempt (shutdown): queued again at once, using no retry. */
  interrupt(ref: AttemptRef, logTail?: Buffer): Promise<Settlement>;
  /** The attempt ended without a result its task can take (cancelled, taken over): only its log is kept. */
  keepLog(ref: AttemptRef, logTail: Buffer): Promise<void>;
  /** The attempt's worker was lost (no heartbeat for the lease): its container is gone, so settle it as an engine error. */
  reclaim(ref: AttemptRef, message: string): Promise<Settlement>;
  /** queued | running → cancelled; false when the task is already final (or missing). */
  cancel(taskId: string): Promise<boolean>;
  /**
   * A workflow run, its steps, and the tasks of the steps that need nothing, all or nothing; with
   * keys, the run those keys were first recorded with instead (a Replay), and nothing new.
   */
  submitWorkflow(run: NewRun, input: unknown, keys?: SubmissionKeys): Promise<Replay | null>;
  /** running → cancelled: its unfinished tasks are cancelled (their containers killed), its waiting steps too. refused: already final. */
  cancelWorkflow(runId: string): Promise<RunChange>;
  /** failed → running: its failed, cancelled and skipped steps run again with fresh tasks. refused: not failed. */
  retryWorkflow(runId: string): Promise<RunChange>;
  /** Safety net for parked tasks: gives free slots of every limited runner to its parked tasks. Returns how many. */
  releaseFreeSlots(): Promise<number>;
  /** Refreshes these attempts' leases; returns the ids of the tasks they still hold. */
  heartbeat(attempts: readonly { id: string; attempt: number }[]): Promise<Set<string>>;
  /** Running attempts whose lease ran out: their worker is gone. */
  findLost(leaseMs: number, limit: number): Promise<LostAttempt[]>;
  /** Which of these (task, attempt) pairs still hold their task with a live lease, as "id:attempt". */
  liveAttempts(attempts: readonly { id: string; attempt: number }[], leaseMs: number): Promise<Set<string>>;
}

/** A job came for a task before its time (a job left over from a lost worker, say): it must come back, not end. */
export class NotYetDue extends Error {
  readonly due: Date;
  constructor(taskId: string, due: Date) {
    super(`task ${taskId} may not start before ${due.toISOString()}`);
    this.name = 'NotYetDue';
    this.due = due;
  }
}

export function createTaskLifecycle(deps: {
  pool: Pool; queue: TaskQueue; runners: RunnersConfig; random?: () => number;
  /** Told of tasks submitted, started and finished (metrics); told nothing by default. */
  observer?: TaskObserver;
}): TaskLifecycle {
  const { pool, queue, runners } = deps;
  const observer = deps.observer ?? NO_TASK_OBSERVER;
  const limited = [...runners.runners.values()].filter((r) => r.concurrency !== undefined);
  const limitedNames = limited.map((r) => r.name);

  /** What each open transaction has to tell the observer: told once it commits, dropped if it rolls back. */
  const untold = new WeakMap<Queryable, (() => void)[]>();

  /** Every transaction of the lifecycle: withTransaction, then what it observed is told. */
  async function transaction<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    const observations: (() => void)[] = [];
    const result = await withTransaction(pool, async (client) => {
      untold.set(client, observations);
      try {
        return await fn(client);
      } finally {
        untold.delete(client);
      }
    });
    for (const observation of observations) observation();
    return result;
  }

  /** An observation made in `client`'s transaction (told after its commit), or outside one (told now). */
  function tell(client: Queryable, observation: () => void): void {
    const pending = untold.get(client);
    if (pending === undefined) observation();
    else pending.push(observation);
  }

  function submitted(client: Queryable, tasks: readonly NewTask[]): void {
    tell(client, () => { for (const task of tasks) observer.submitted(task.runner); });
  }

  /** Keys are recorded first, so a duplicate is found before anything else is written (their foreign keys are deferred). */
  async function recordKeys(client: PoolClient, keys: SubmissionKeys, created: Created): Promise<Replay | null> {
    if (keys.idempotencyKey !== undefined) {
      const existing = await recordIdempotencyKey(client, keys.idempotencyKey.key, keys.idempotencyKey.requestHash, created);
      if (existing !== null) return { replayOf: existing.created, requestHash: existing.requestHash };
    }
    if (keys.delivery !== undefined) {
      const existing = await recordWebhookDelivery(client, keys.delivery.webhook, keys.delivery.id, created);
      if (existing !== null) return { replayOf: existing, requestHash: undefined };
    }
    if (keys.tick !== undefined) {
      const existing = await recordStartedTick(client, keys.tick, created);
      if (existing !== null) return { replayOf: existing, requestHash: undefined };
    }
    return null;
  }

  /** The one place a run job's options are made. */
  function jobFor(runner: string, options: { priority: number; startAfter?: Date | null }): EnqueueOptions {
    return {
      runner,
      expireInSeconds: jobExpirySeconds(runners.runners.get(runner)?.timeoutMs),
      ...(options.priority === 0 ? {} : { priority: options.priority }),
      ...(options.startAfter == null ? {} : { startAfter: options.startAfter }),
    };
  }

  /**
   * What follows a final status, in the transaction that made it: the task's callback and event,
   * and for a workflow step (whose run the transaction locked first), the run moves on.
   */
  async function afterFinal(client: PoolClient, taskId: string, finished: FinishedTask, run: LockedRun | null): Promise<void> {
    if (finished.callbackUrl !== null) await queue.enqueueCallback(client, { taskId });
    await publishTaskEvent(client, taskId, 'final');
    if (finished.step !== null && run !== null) await progress.taskFinal(client, run, finished.step);
  }

  /**
   * A transaction that may make a workflow step's task final locks its run first, before the task
   * row: all changes to one run are serialised, and always taken in the order run, task, runner.
   */
  async function lockRunOf(client: PoolClient, taskId: string, known: string | null | undefined): Promise<LockedRun | null> {
    const workflowId = known === undefined ? await workflowOf(client, taskId) : known;
    return workflowId === null ? null : lockRun(client, workflowId);
  }

  /**
   * A task's cancel and what follows for the task; its run (locked by the caller) is the caller's
   * to move on. Returns the runner whose slot it freed, for the caller to hand on (afterLeavingRunning)
   * once every task it cancels is locked: the runner's lock comes after task rows.
   */
  async function cancelOne(client: PoolClient, taskId: string): Promise<{ finished: FinishedTask; freed: string | null } | null> {
    const cancelled = await cancelTask(client, taskId);
    if (cancelled === null) return null;
    tell(client, () => observer.finished(cancelled.runner, 'cancelled', cancelled.finished.durationMs));
    if (cancelled.previous !== 'running') return { finished: cancelled.finished, freed: null };
    await endAttempt(client, taskId, cancelled.attempt, { exitCode: null, errorCode: 'cancelled', errorMessage: 'cancelled by a client' });
    return { finished: cancelled.finished, freed: cancelled.runner };
  }

  const progress = createWorkflowProgress({
    runners,
    tasks: {
      async queue(client, tasks) {
        await insertTasks(client, tasks);
        submitted(client, tasks);
        await queue.enqueueMany(client, tasks.map((task) => ({ taskId: task.id, options: jobFor(task.runner, { priority: task.priority }) })));
      },
      async reject(client, tasks) {
        await insertFailedTasks(client, tasks);
        submitted(client, tasks);
        tell(client, () => { for (const task of tasks) observer.finished(task.runner, 'failed', null); });
      },
      async cancel(client, taskIds) {
        const freed = new Set<string>();
        for (const taskId of taskIds) {
          // The worker running it kills the container when it hears of this ('final').
          const cancelled = await cancelOne(client, taskId);
          if (cancelled === null) continue;
          if (cancelled.freed !== null) freed.add(cancelled.freed);
          await afterFinal(client, taskId, cancelled.finished, null);
        }
        // After all of them: the freed slots go to other runs' parked tasks, never to this run's (all cancelled now).
        for (const runner of freed) await afterLeavingRunning(client, runner);
      },
      async runFinal(client, run, endedAt) {
        if (run.callbackUrl !== null) await queue.enqueueCallback(client, { workflowId: run.id, endedAt: endedAt.toISOString() });
        await publishTaskEvent(client, run.id, 'final');
      },
      savepoint(client, fn, onError) {
        // A rolled-back savepoint takes back what it observed too: those tasks were never stored.
        const pending = untold.get(client);
        const mark = pending?.length ?? 0;
        return withSavepoint(client, fn, (error) => {
          pending?.splice(mark);
          return onError(error);
        });
      },
    },
  });

  /**
   * A task of `runner` left running: a limited runner's freed slot goes to its best parked task,
   * claimed at once for the slot offering `handOffJob` (returned), or else given a job.
   */
  async function afterLeavingRunning(client: PoolClient, runner: string, handOffJob?: string): Promise<ClaimedTask | null> {
    const limit = runners.runners.get(runner)?.concurrency;
    if (limit === undefined) return null;
    // Serialised with claims (claimLimited), so a claim that parks a task either sees this slot
    // free or is seen by this unpark: no parked task can wait beside a free slot.
    await lockRunner(client, runner);
    if (handOffJob !== undefined) {
      const next = await claimParkedTask(client, runner, handOffJob, limit);
      if (next !== null) {
        tell(client, () => observer.started(next.runner, next.queuedMs));
        return next;
      }
    }
    for (const next of await unparkTasks(client, runner, 1)) {
      await queue.enqueue(client, next.id, jobFor(runner, { priority: next.priority }));
    }
    return null;
  }

  /**
   * The attempt no longer held its task. With a hand-off offered, an earlier try of this settle may
   * have committed one whose answer was lost: the slot still gets the task it was handed.
   */
  async function superseded(client: PoolClient, ref: AttemptRef, handOffJob: string | undefined): Promise<Settled> {
    const next = handOffJob === undefined || !limitedNames.includes(ref.runner) ? null : await findHandedOff(client, handOffJob, ref.id);
    return { settlement: 'superseded', next };
  }

  async function finish(client: PoolClient, ref: AttemptRef, result: AttemptResult, run: LockedRun | null, handOffJob: string | undefined): Promise<Settled> {
    const finished = await finishTask(client, ref.id, ref.attempt, result);
    if (finished === null) return superseded(client, ref, handOffJob);
    tell(client, () => observer.finished(ref.runner, result.status, finished.durationMs));
    const next = await afterLeavingRunning(client, ref.runner, handOffJob);
    await afterFinal(client, ref.id, finished, run);
    return { settlement: 'finished', next };
  }

  async function requeue(client: PoolClient, ref: AttemptRef, delayMs: number, outcome: Settlement, handOffJob?: string): Promise<Settled> {
    const requeued = await requeueTask(client, ref.id, ref.attempt, delayMs);
    if (requeued === null) return superseded(client, ref, handOffJob);
    await queue.enqueue(client, ref.id, jobFor(ref.runner, { priority: ref.priority, startAfter: requeued.startAfter }));
    const next = await afterLeavingRunning(client, ref.runner, handOffJob);
    await publishTaskEvent(client, ref.id, 'status');
    return { settlement: outcome, next };
  }

  /** A failure its runner's policy may retry: settling it counts the attempts first. */
  function mayRetry(ref: AttemptRef, result: AttemptResult): boolean {
    return runners.runners.has(ref.runner) && result.status === 'failed' && result.errorCode !== null && isRetryable(result.errorCode);
  }

  /** `run`: the task's workflow run, locked by the caller before anything else (lockRunOf). */
  async function settleIn(client: PoolClient, ref: AttemptRef, result: AttemptResult, run: LockedRun | null, handOffJob?: string): Promise<Settled> {
    const runner: Runner | undefined = runners.runners.get(ref.runner);
    if (runner !== undefined && mayRetry(ref, result)) {
      await lockTask(client, ref.id);
      await endAttempt(client, ref.id, ref.attempt, { exitCode: result.exitCode, errorCode: result.errorCode, errorMessage: result.errorMessage });
      const failures = await countFailedAttempts(client, ref.id);
      if (failures < ref.maxAttempts) return requeue(client, ref, retryDelayMs(runner.retries, failures, deps.random), 'retrying', handOffJob);
    }
    return finish(client, ref, result, run, handOffJob);
  }

  async function claimLimited(client: PoolClient, taskId: string, jobId: string): Promise<ClaimedTask | null> {
    const queued = await lockQueuedTask(client, taskId);
    if (queued === null) return null;
    const limit = runners.runners.get(queued.runner)?.concurrency;
    if (limit !== undefined) {
      await lockRunner(client, queued.runner);
      // No job churns while the runner is full: the task waits without one, and the next attempt
      // of this runner to end claims it for its own slot, or gives it a job (afterLeavingRunning).
      if (await parkIfFull(client, taskId, queued.runner, limit)) return null;
    }
    return claimTask(client, taskId, jobId);
  }

  return {
    async submit(tasks) {
      const inserted = await transaction(async (client) => {
        const rows = await insertTasks(client, tasks);
        submitted(client, tasks);
        await queue.enqueueMany(client, tasks.map((task) => ({ taskId: task.id, options: jobFor(task.runner, { priority: task.priority, startAfter: task.runAfter }) })));
        return rows;
      });
      const byId = new Map(inserted.map((task) => [task.id, task]));
      return tasks.map((task) => byId.get(task.id)!);
    },

    submitKeyed(task, keys) {
      return transaction<KeyedSubmission>(async (client) => {
        const replay = await recordKeys(client, keys, { taskId: task.id });
        if (replay !== null) return replay;
        const inserted = await insertTask(client, keys.tick === undefined ? task : { ...task, scheduled: scheduledBy(keys.tick) });
        submitted(client, [task]);
        await queue.enqueue(client, task.id, jobFor(task.runner, { priority: task.priority, startAfter: task.runAfter }));
        return { task: inserted };
      });
    },

    async claim(taskId, jobId) {
      // Most runners have no limit: then one statement claims the task and records its attempt.
      let claim = await claimUnlimitedTask(pool, taskId, jobId, limitedNames);
      if (claim === null && limitedNames.length > 0) claim = await transaction((client) => claimLimited(client, taskId, jobId));
      if (claim !== null) {
        observer.started(claim.runner, claim.queuedMs);
        return claim;
      }
      const due = await dueLater(pool, taskId);
      if (due !== null) throw new NotYetDue(taskId, due);
      return null;
    },

    async settle(ref, result, options = {}) {
      const { logTail, handOffJob } = options;
      // The common end (no log to replace, no callback, no slot to hand on, no retry to weigh) is
      // one statement: a task's end costs the worker one round trip instead of four.
      if (logTail === undefined && ref.hasCallback === false && ref.workflowId === null && !limitedNames.includes(ref.runner) && !mayRetry(ref, result)) {
        const alone = await finishTaskAlone(pool, ref.id, ref.attempt, result, taskEventNotice(ref.id, 'final'));
        if (alone !== false) {
          observer.finished(ref.runner, result.status, alone.durationMs);
          return { settlement: 'finished', next: null };
        }
      }
      return transaction(async (client) => {
        const run = await lockRunOf(client, ref.id, ref.workflowId);
        if (logTail !== undefined) {
          // The task's row before its log's rows, as a cancel takes them.
          await lockTask(client, ref.id);
          await replaceLog(client, ref.id, ref.attempt, logTail);
        }
        return settleIn(client, ref, result, run, handOffJob);
      });
    },

    interrupt(ref, logTail) {
      return transaction(async (client) => {
        // The task's row before anything that refers to it (its log, its attempt), as a cancel takes them.
        await lockTask(client, ref.id);
        if (logTail !== undefined) await replaceLog(client, ref.id, ref.attempt, logTail);
        await endAttempt(client, ref.id, ref.attempt, { exitCode: null, errorCode: 'interrupted', errorMessage: 'the worker shut down; queued again' });
        return (await requeue(client, ref, 0, 'requeued')).settlement;
      });
    },

    async keepLog(ref, logTail) {
      await replaceLog(pool, ref.id, ref.attempt, logTail);
    },

    reclaim(ref, message) {
      const result: AttemptResult = { status: 'failed', outputJson: null, exitCode: null, errorCode: 'engine_error', errorMessage: message };
      return transaction(async (client) => (await settleIn(client, ref, result, await lockRunOf(client, ref.id, ref.workflowId))).settlement);
    },

    cancel(taskId) {
      return transaction(async (client) => {
        const run = await lockRunOf(client, taskId, undefined);
        const cancelled = await cancelOne(client, taskId);
        if (cancelled === null) return false;
        if (cancelled.freed !== null) await afterLeavingRunning(client, cancelled.freed);
        // The worker running it kills the container when it hears of this ('final').
        await afterFinal(client, taskId, cancelled.finished, run);
        return true;
      });
    },

    submitWorkflow(run, input, keys = {}) {
      return transaction(async (client) => {
        const replay = await recordKeys(client, keys, { workflowId: run.id });
        if (replay === null) await progress.start(client, keys.tick === undefined ? run : { ...run, scheduled: scheduledBy(keys.tick) }, input);
        return replay;
      });
    },

    cancelWorkflow(runId) {
      return transaction(async (client): Promise<RunChange> => {
        const run = await lockRun(client, runId);
        if (run === null) return 'not_found';
        return (await progress.cancel(client, run)) ? 'done' : 'refused';
      });
    },

    retryWorkflow(runId) {
      return transaction(async (client): Promise<RunChange> => {
        const run = await lockRun(client, runId);
        if (run === null) return 'not_found';
        return (await progress.retry(client, run)) ? 'done' : 'refused';
      });
    },

    async releaseFreeSlots() {
      let released = 0;
      for (const runner of limited) {
        released += await transaction(async (client) => {
          await lockRunner(client, runner.name);
          const free = runner.concurrency! - (await countRunning(client, runner.name));
          if (free <= 0) return 0;
          const next = await unparkTasks(client, runner.name, free);
          for (const task of next) await queue.enqueue(client, task.id, jobFor(runner.name, { priority: task.priority }));
          return next.length;
        });
      }
      return released;
    },

    heartbeat: (attempts) => heartbeat(pool, attempts),
    findLost: (leaseMs, limit) => findLostAttempts(pool, leaseMs, limit),
    liveAttempts: (attempts, leaseMs) => liveAttempts(pool, attempts, leaseMs),
  };
}

/** What a task or run started by a schedule's tick carries. */
function scheduledBy(tick: NewTick): ScheduledStart {
  return { schedule: tick.schedule, scheduledFor: tick.scheduledFor };
}

// Time a job may stay active beyond the runner's own timeout: container create, start and removal.
const EXPIRY_MARGIN_SECONDS = 120;
const DEFAULT_TIMEOUT_MS = 300_000;

/** A job outliving this means its worker was lost; it must never expire while the container may still run. */
function jobExpirySeconds(runnerTimeoutMs: number | undefined): number {
  return Math.ceil((runnerTimeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000) + EXPIRY_MARGIN_SECONDS;
}
