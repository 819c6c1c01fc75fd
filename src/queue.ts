/**
 * pg-boss is Berth's transport, not its record: a job carries only {taskId}; the task's state lives
 * in berth.tasks. This file owns the queue's name and options and the one way a job is enqueued.
 */
import { PgBoss } from 'pg-boss';
import { prepared, type Queryable } from './db.ts';
import type { CallbackSettings } from './runners/runner.ts';

export const RUN_TASK_QUEUE = 'berth-run-task';
/** Jobs that POST a finished task to its callbackUrl; retried by pg-boss with backoff. */
export const CALLBACK_QUEUE = 'berth-callback';

/** The API↔worker contract. */
export interface RunTaskJob {
  readonly taskId: string;
}

export interface EnqueueOptions {
  /** The task's runner: the job's group, so pg-boss can hold a runner's concurrency limit. */
  readonly runner: string;
  /** How long pg-boss lets the job stay active before it counts the worker as lost. */
  readonly expireInSeconds: number;
  readonly priority?: number;
  readonly startAfter?: Date;
}

export interface TaskQueue {
  /** Enqueues inside the caller's transaction, so the task row and its job commit together. */
  enqueue(db: Queryable, taskId: string, options: EnqueueOptions): Promise<void>;
  /** Enqueues many at once (batch submission), inside the caller's transaction. */
  enqueueMany(db: Queryable, jobs: readonly { taskId: string; options: EnqueueOptions }[]): Promise<void>;
  /** Schedules the callback of a task that just ended, inside the transaction that ended it. */
  enqueueCallback(db: Queryable, taskId: string): Promise<void>;
  /** Settles the job of an attempt whose worker is gone, so it stops counting against its runner's limit. */
  abandon(jobId: string): Promise<void>;
}

export type BossRole = 'api' | 'worker';

export function createBoss(connectionString: string, role: BossRole): PgBoss {
  return new PgBoss({
    connectionString,
    application_name: `berth-${role}-boss`,
    max: role === 'worker' ? 4 : 2,
    // The API only enqueues (inside its own transactions); maintenance and LISTEN belong to workers.
    supervise: role === 'worker',
    schedule: false,
    useListenNotify: role === 'worker',
    instanceName: `berth-${role}`,
  });
}

/** Idempotent; run by every process at start so neither depends on the other having started. */
export async function ensureQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(CALLBACK_QUEUE, { notify: true });
  await boss.createQueue(RUN_TASK_QUEUE, {
    // Workers are woken by NOTIFY the moment a job is created instead of waiting for a poll.
    notify: true,
    // Berth decides about retries itself (it counts the task's failed attempts, not the job's).
    retryLimit: 0,
  });
}

export function createTaskQueue(boss: PgBoss, callbacks?: CallbackSettings): TaskQueue {
  return {
    async enqueue(db, taskId, options) {
      const job: RunTaskJob = { taskId };
      await boss.send(RUN_TASK_QUEUE, job, { db: asBossDb(db), ...jobOptions(options) });
    },
    async enqueueMany(db, jobs) {
      await boss.insert(RUN_TASK_QUEUE, jobs.map(({ taskId, options }) => ({ data: { taskId } satisfies RunTaskJob, ...jobOptions(options) })), {
        db: asBossDb(db),
      });
    },
    async enqueueCallback(db, taskId) {
      const job: RunTaskJob = { taskId };
      await boss.send(CALLBACK_QUEUE, job, {
        db: asBossDb(db),
        retryLimit: callbacks?.retries.limit ?? 5,
        retryDelay: Math.max(1, Math.round((callbacks?.retries.delayMs ?? 1000) / 1000)),
        retryBackoff: true,
        expireInSeconds: Math.ceil((callbacks?.timeoutMs ?? 10_000) / 1000) * 3,
      });
    },
    async abandon(jobId) {
      await boss.fail(RUN_TASK_QUEUE, jobId, { reason: 'the worker running this attempt was lost' });
    },
  };
}

/**
 * pg-boss's statements run on Berth's connection, inside Berth's transaction. Those with parameters
 * are single statements of a fixed text per queue (pg-boss's job insert), so they are prepared.
 */
function asBossDb(db: Queryable): { executeSql(text: string, values?: unknown[]): Promise<{ rows: any[] }> } {
  return { executeSql: (text, values) => (values === undefined ? db.query(text) : db.query(prepared(text, values))) };
}

function jobOptions(options: EnqueueOptions) {
  return {
    expireInSeconds: options.expireInSeconds,
    retryLimit: 0,
    group: { id: options.runner, tier: options.runner },
    ...(options.priority === undefined ? {} : { priority: options.priority }),
    ...(options.startAfter === undefined ? {} : { startAfter: options.startAfter }),
  };
}

// Time a job may stay active beyond the runner's own timeout: container create, start and removal.
const EXPIRY_MARGIN_SECONDS = 120;

/** A job outliving this means its worker was lost; it must never expire while the container may still run. */
export function jobExpirySeconds(runnerTimeoutMs: number): number {
  return Math.ceil(runnerTimeoutMs / 1000) + EXPIRY_MARGIN_SECONDS;
}
