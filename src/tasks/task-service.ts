/**
 * What clients can do with tasks. Owns the rule that a 202 means durably stored: the task row,
 * its job and its idempotency key are written in one transaction (which concurrent submissions may
 * share: group-commit.ts), and every 4xx is decided before anything is written.
 */
import type { CallbackCheck } from '../callbacks/callback-check.ts';
import { AppError, type ErrorDetail } from '../errors.ts';
import { isDatabaseUnavailable, withTransaction, type Pool } from '../db.ts';
import { groupCommit } from '../group-commit.ts';
import { jobExpirySeconds, type EnqueueOptions, type TaskQueue } from '../queue.ts';
import type { Runner, RunnersConfig } from '../runners/runner.ts';
import { publishTaskEvent } from '../task-events.ts';
import { endAttempt } from './attempt-store.ts';
import { recordWebhookDelivery } from './delivery-store.ts';
import { recordIdempotencyKey } from './idempotency-store.ts';
import { requestHash } from './request-hash.ts';
import { isTaskId, newTaskId } from './task-id.ts';
import type { Task, TaskListQuery, TaskPage, TaskSubmission } from './task-schemas.ts';
import { cancelTask, findTask, insertTask, insertTasks, listTasks, type NewTask } from './task-store.ts';

export interface TaskServiceDeps {
  readonly pool: Pool;
  readonly queue: TaskQueue;
  readonly runners: RunnersConfig;
  /** Refuses callback URLs that cannot be delivered safely. */
  readonly checkCallback: CallbackCheck;
}

export interface SubmitOptions {
  readonly idempotencyKey?: string;
  /** An inbound webhook delivery: a redelivery of the same id returns the task the first one created. */
  readonly delivery?: { readonly webhook: string; readonly id: string };
}

export interface TaskService {
  /** `created` is false when an idempotent replay returned the task created the first time. */
  submitTask(submission: TaskSubmission, options?: SubmitOptions): Promise<{ task: Task; created: boolean }>;
  /** All or nothing: one invalid submission rejects the batch, naming each problem by its index. */
  submitBatch(submissions: readonly TaskSubmission[]): Promise<Task[]>;
  getTask(id: string): Promise<Task>;
  listTasks(query: TaskListQuery): Promise<TaskPage>;
  cancelTask(id: string): Promise<Task>;
}

/** A checked submission, ready to be written: the task row and its job's options. */
interface Prepared {
  readonly task: NewTask;
  readonly job: EnqueueOptions;
}

/** Concurrent single submissions share a transaction (group-commit.ts). */
const SUBMISSION_GROUP = { maxGroup: 500, maxInFlight: 2 } as const;

export function createTaskService({ pool, queue, runners, checkCallback }: TaskServiceDeps): TaskService {
  async function getTask(id: string): Promise<Task> {
    const task = isTaskId(id) ? await findTask(pool, id) : null;
    if (task === null) throw new AppError('TASK_NOT_FOUND', `no task with id '${id}'`);
    return task;
  }

  /** All or nothing, in one transaction; the tasks come back in the order given. */
  async function insertAll(items: readonly Prepared[]): Promise<Task[]> {
    const inserted = await withTransaction(pool, async (client) => {
      const rows = await insertTasks(client, items.map((item) => item.task));
      await queue.enqueueMany(client, items.map((item) => ({ taskId: item.task.id, options: item.job })));
      return rows;
    });
    const byId = new Map(inserted.map((task) => [task.id, task]));
    return items.map((item) => byId.get(item.task.id)!);
  }

  // Only an error that is not an outage can be one submission's fault (all were checked already).
  const insertGrouped = groupCommit(insertAll, { ...SUBMISSION_GROUP, mayBeOneItem: (error) => !isDatabaseUnavailable(error) });

  /** With an Idempotency-Key or a webhook delivery id: the key and the task commit together, or the earlier task is returned. */
  async function insertKeyed(item: Prepared, fingerprint: string, options: SubmitOptions): Promise<{ task: Task; created: boolean }> {
    const outcome = await withTransaction<{ task: Task } | { replayOf: { taskId: string; requestHash: string } }>(pool, async (client) => {
      if (options.idempotencyKey !== undefined) {
        const existing = await recordIdempotencyKey(client, options.idempotencyKey, fingerprint, item.task.id);
        if (existing !== null) return { replayOf: existing };
      }
      if (options.delivery !== undefined) {
        const existing = await recordWebhookDelivery(client, options.delivery.webhook, options.delivery.id, item.task.id);
        if (existing !== null) return { replayOf: { taskId: existing, requestHash: fingerprint } };
      }
      const task = await insertTask(client, item.task);
      await queue.enqueue(client, item.task.id, item.job);
      return { task };
    });
    if ('task' in outcome) return { task: outcome.task, created: true };
    if (outcome.replayOf.requestHash !== fingerprint) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used with a different request body');
    }
    return { task: await getTask(outcome.replayOf.taskId), created: false };
  }

  return {
    async submitTask(submission, options = {}) {
      const runner = checkSubmission(runners, submission);
      const callbackUrl = submission.callbackUrl ?? runner.callback ?? null;
      if (callbackUrl !== null) await checkCallback(callbackUrl, 'body/callbackUrl');
      const item = prepare(submission, runner, callbackUrl);
      if (options.idempotencyKey !== undefined || options.delivery !== undefined) {
        return insertKeyed(item, requestHash(submission), options);
      }
      return { task: await insertGrouped(item), created: true };
    },

    async submitBatch(submissions) {
      const runnersOf = checkBatch(runners, submissions);
      const callbackUrls = submissions.map((submission, i) => submission.callbackUrl ?? runnersOf[i]!.callback ?? null);
      await checkBatchCallbacks(checkCallback, callbackUrls);
      return insertAll(submissions.map((submission, i) => prepare(submission, runnersOf[i]!, callbackUrls[i]!)));
    },

    getTask,

    async listTasks(query) {
      const limit = query.limit ?? 50;
      const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const items = await listTasks(pool, {
        limit: limit + 1,
        ...(query.runner === undefined ? {} : { runner: query.runner }),
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(before === undefined ? {} : { before }),
      });
      const page = items.slice(0, limit);
      return { items: page, nextCursor: items.length > limit ? encodeCursor(page[page.length - 1]!.id) : null };
    },

    async cancelTask(id) {
      const task = await getTask(id);
      const cancelled = await withTransaction(pool, async (client) => {
        const result = await cancelTask(client, task.id);
        if (result === null) return false;
        if (result.previous === 'running') {
          await endAttempt(client, task.id, result.attempt, { exitCode: null, errorCode: 'cancelled', errorMessage: 'cancelled by a client' });
        }
        if (result.callback_url !== null) await queue.enqueueCallback(client, task.id);
        // The worker running it kills the container when it hears of this.
        await publishTaskEvent(client, task.id, 'final');
        return true;
      });
      const current = await getTask(id);
      if (!cancelled) throw new AppError('TASK_FINISHED', `task '${id}' is already ${current.status}`);
      return current;
    },
  };
}

function prepare(submission: TaskSubmission, runner: Runner, callbackUrl: string | null): Prepared {
  const runAfter = startTime(submission);
  return {
    task: {
      id: newTaskId(), runner: runner.name, inputJson: JSON.stringify(submission.input ?? null), priority: submission.priority ?? 0,
      runAfter, maxAttempts: runner.retries.limit + 1, callbackUrl,
    },
    job: {
      runner: runner.name,
      expireInSeconds: jobExpirySeconds(runner.timeoutMs),
      ...(submission.priority === undefined ? {} : { priority: submission.priority }),
      ...(runAfter === null ? {} : { startAfter: runAfter }),
    },
  };
}

function checkSubmission(runners: RunnersConfig, submission: TaskSubmission): Runner {
  const runner = runners.runners.get(submission.runner);
  if (runner === undefined) {
    throw new AppError('UNKNOWN_RUNNER', `unknown runner '${submission.runner}'`, {
      details: [{ path: '/runner', message: `no runner named '${submission.runner}' is configured` }],
    });
  }
  if (submission.startAfter !== undefined && submission.delay !== undefined) {
    throw new AppError('VALIDATION_FAILED', 'give startAfter or delay, not both', {
      details: [{ path: 'body/delay', message: 'cannot be combined with startAfter' }],
    });
  }
  const violations = runner.validateInput(submission.input ?? null);
  if (violations.length > 0) {
    const list = violations.map((v) => `${v.path}: ${v.message}`).join('; ');
    throw new AppError('INPUT_INVALID', `input does not match the input_schema of runner '${runner.name}': ${list}`, {
      details: violations,
    });
  }
  return runner;
}

function checkBatch(runners: RunnersConfig, submissions: readonly TaskSubmission[]): Runner[] {
  const checked: Runner[] = [];
  const details: ErrorDetail[] = [];
  submissions.forEach((submission, i) => {
    try {
      checked.push(checkSubmission(runners, submission));
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      for (const d of error.details ?? [{ path: '', message: error.message }]) {
        details.push({ path: `/tasks/${i}${d.path.replace(/^body/, '')}`, message: d.message });
      }
    }
  });
  if (details.length > 0) {
    throw new AppError('VALIDATION_FAILED', `the batch was rejected, nothing was queued: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, { details });
  }
  return checked;
}

/** Every refused URL is named, by the index of each submission that carries it; each distinct URL is checked once. */
async function checkBatchCallbacks(checkCallback: CallbackCheck, urls: readonly (string | null)[]): Promise<void> {
  const refused = new Map<string, string>();
  for (const url of new Set(urls)) {
    if (url === null) continue;
    try {
      await checkCallback(url, 'callbackUrl');
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      refused.set(url, error.details?.[0]?.message ?? error.message);
    }
  }
  if (refused.size === 0) return;
  const details = urls.flatMap((url, i) => (url !== null && refused.has(url) ? [{ path: `/tasks/${i}/callbackUrl`, message: refused.get(url)! }] : []));
  throw new AppError('VALIDATION_FAILED', `the batch was rejected, nothing was queued: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, { details });
}

function startTime(submission: TaskSubmission): Date | null {
  if (submission.startAfter !== undefined) return new Date(submission.startAfter);
  if (submission.delay !== undefined && submission.delay > 0) return new Date(Date.now() + submission.delay * 1000);
  return null;
}

/** Cursors are opaque to clients: the last id of the previous page, encoded. */
function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isTaskId(id)) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor', { details: [{ path: 'querystring/cursor', message: 'is not a cursor this API returned' }] });
  }
  return id;
}
