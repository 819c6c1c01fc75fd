/**
 * pg-boss is Berth's transport, not its record: a job carries only {taskId}; the task's state lives
 * in berth.tasks. This file owns the queue's name and options and the one way a job is enqueued.
 */
import { PgBoss } from 'pg-boss';
import { prepared, type Queryable } from './db.ts';

export const RUN_TASK_QUEUE = 'berth-run-task';
/** Jobs that POST a finished task to its callbackUrl; retried by pg-boss with backoff. */
export const CALLBACK_QUEUE = 'berth-callback';

/** The API↔worker contract. */
export interface RunTaskJob {
  readonly taskId: string;
}

/**
 * A callback job names what ended: a task, or a workflow run and which of its ends (a failed run
 * that is retried ends again, and each end is its own message).
 */
export type CallbackJob = { readonly taskId: string } | { readonly workflowId: string; readonly endedAt: string };

export interface EnqueueOptions {
  /** The task's runner (a runner's concurrency limit is Berth's to hold: task-lifecycle.ts). */
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
  /** Schedules the callback of a task (or a workflow run) that just ended, inside the transaction that ended it. */
  enqueueCallback(db: Queryable, subject: CallbackJob): Promise<void>;
}

export type BossRole = 'api' | 'worker';

export function createBoss(connectionString: string, role: BossRole): PgBoss {
  return new PgBoss({
    connectionString,
    application_name: `berth-${role}-boss`,
    max: role === 'worker' ? 4 : 2,
    // The API only enqueues (inside its own transactions); maintenance and LISTEN belong to workers.
    supervise: role === 'worker',
    superviseIntervalSeconds: SUPERVISE_INTERVAL_SECONDS,
    schedule: false,
    useListenNotify: role === 'worker',
    instanceName: `berth-${role}`,
  });
}

/**
 * The channel pg-boss NOTIFYs when a job of a notify-enabled queue is created: its `notifyChannelSql`
 * (plans.js, not exported), asked of PostgreSQL the way pg-boss asks it, since LISTEN takes no
 * expression. A worker listens on it for its own job intake (task-consumer.ts); pg-boss's worker
 * loop is not used for run jobs. Payload: the queue's name.
 */
export async function jobNoticeChannel(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ channel: string }>(`select ('pgboss_' || left(encode(sha224('pgboss'::bytea), 'hex'), 24)) as channel`);
  return rows[0]!.channel;
}

/** Idempotent; run by every process at start so neither depends on the other having started. */
export async function ensureQueues(boss: PgBoss): Promise<void> {
  await boss.createQueue(CALLBACK_QUEUE, { notify: true });
  await boss.createQueue(RUN_TASK_QUEUE, {
    // Workers are woken by NOTIFY the moment a job is created instead of waiting for a poll.
    notify: true,
    ...RUN_JOB_RETRIES,
  });
}

/** How callback jobs are retried and how long one may stay active (the runners file's callbacks section). */
export interface CallbackJobSettings {
  readonly timeoutMs: number;
  readonly retries: { readonly limit: number; readonly delayMs: number };
}

export function createTaskQueue(boss: PgBoss, callbacks?: CallbackJobSettings): TaskQueue {
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
    async enqueueCallback(db, subject) {
      const job: CallbackJob = subject;
      await boss.send(CALLBACK_QUEUE, job, {
        db: asBossDb(db),
        retryLimit: callbacks?.retries.limit ?? 5,
        retryDelay: Math.max(1, Math.round((callbacks?.retries.delayMs ?? 1000) / 1000)),
        retryBackoff: true,
        expireInSeconds: Math.ceil((callbacks?.timeoutMs ?? 10_000) / 1000) * 3,
      });
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

/**
 * A run job's own retries are the transport's, not the task's (Berth counts the task's failed
 * attempts itself): a job whose handler failed before its claim committed (the database went away
 * between fetch and claim, say) comes back, so its task is never left queued with no job. A job
 * that comes back for a task already claimed or final finds nothing to claim and ends.
 */
const RUN_JOB_RETRIES = { retryLimit: 1_000, retryDelay: 1, retryBackoff: true, retryDelayMax: 60 } as const;

/**
 * A job fetched by a worker that died before its claim committed (killed, or the database went
 * away under it) would stay active until its expiry, a runner's timeout and more. With a heartbeat
 * pg-boss fails it within this (plus a supervise interval, below), and its retry comes back. Once
 * a task is claimed, its own lease (heartbeat_at) is what counts, not the job's.
 */
const RUN_JOB_HEARTBEAT_SECONDS = 10;
const SUPERVISE_INTERVAL_SECONDS = 5;

function jobOptions(options: EnqueueOptions) {
  return {
    expireInSeconds: options.expireInSeconds,
    heartbeatSeconds: RUN_JOB_HEARTBEAT_SECONDS,
    ...RUN_JOB_RETRIES,
    ...(options.priority === undefined ? {} : { priority: options.priority }),
    ...(options.startAfter === undefined ? {} : { startAfter: options.startAfter }),
  };
}
