/**
 * What clients can do with tasks. Owns the rule that a 202 means durably stored: the task row,
 * its job and its idempotency key are written in one transaction (which concurrent submissions may
 * share: group-commit.ts), and every 4xx is decided before anything is written.
 */
import { AppError, type ErrorDetail } from '../errors.ts';
import { isDatabaseUnavailable, type Pool } from '../db.ts';
import { groupCommit } from '../group-commit.ts';
import { FULL_ACCESS, mayUseCallback, mayUseRunner, type Access } from '../runners/access.ts';
import { listFilter, mayRead } from './task-visibility.ts';
import type { Runner, RunnersConfig } from '../runners/runner.ts';
import { requestHash } from './request-hash.ts';
import { decodeCursor, pageByBytes, pageOf } from './page-cursor.ts';
import { isTaskId, newTaskId } from './task-id.ts';
import type { NewTick } from './schedule-store.ts';
import type { Replay, SubmissionKeys, TaskLifecycle } from './task-lifecycle.ts';
import { FULL_PAGE_BYTES, type Task, type TaskListQuery, type TaskPage, type TaskSubmission } from './task-schemas.ts';
import { findTask, findTasks, listTaskSizes, listTaskSummaries, type NewTask, type TaskFilter } from './task-store.ts';

/** A task as clients see it, for other features' reads (the callback sender); null when missing. */
export function readTask(pool: Pool, id: string): Promise<Task | null> {
  return findTask(pool, id);
}

/** Refuses (with a 400 naming `path`) a callback URL that cannot be delivered safely. */
export type CallbackCheck = (url: string, path: string) => Promise<void>;

export interface TaskServiceDeps {
  readonly pool: Pool;
  readonly lifecycle: TaskLifecycle;
  readonly runners: RunnersConfig;
  readonly checkCallback: CallbackCheck;
  /** The largest single submission (BERTH_BODY_LIMIT): a batch's tasks are held to it too. Omitted: no bound. */
  readonly submissionLimitBytes?: number;
}

export interface SubmitOptions {
  readonly idempotencyKey?: string;
  /** An inbound webhook delivery: a redelivery of the same id returns the task the first one created. */
  readonly delivery?: { readonly webhook: string; readonly id: string };
  /** A schedule's tick: the task carries it, and a tick submitted twice returns the task the first one created. */
  readonly tick?: NewTick;
  /** The API key's reach; omitted: everything (Berth's own callers: webhooks, schedules). */
  readonly access?: Access;
  /** The W3C traceparent the request came with, already checked (trace-context.ts): kept on the task or run. */
  readonly traceparent?: string;
}


export interface TaskService {
  /** `created` is false when an idempotent replay returned the task created the first time. */
  submitTask(submission: TaskSubmission, options?: SubmitOptions): Promise<{ task: Task; created: boolean }>;
  /** All or nothing: one invalid submission rejects the batch, naming each problem by its index. Every task keeps the request's traceparent. */
  submitBatch(submissions: readonly TaskSubmission[], options?: { readonly traceparent?: string; readonly access?: Access }): Promise<Task[]>;
  /** A task outside `access` reads as missing. */
  getTask(id: string, access?: Access): Promise<Task>;
  listTasks(query: TaskListQuery, access?: Access): Promise<TaskPage>;
  cancelTask(id: string, access?: Access): Promise<Task>;
}

/** Concurrent single submissions share a transaction (group-commit.ts). */
const SUBMISSION_GROUP = { maxGroup: 500, maxInFlight: 2 } as const;

export function createTaskService({ pool, lifecycle, runners, checkCallback, submissionLimitBytes }: TaskServiceDeps): TaskService {
  async function getTask(id: string, access = FULL_ACCESS): Promise<Task> {
    const task = isTaskId(id) ? await findTask(pool, id) : null;
    if (task === null || !(await mayRead(pool, access, task))) throw new AppError('TASK_NOT_FOUND', `no task with id '${id}'`);
    return task;
  }

  // Only an error that is not an outage can be one submission's fault (all were checked already).
  const insertGrouped = groupCommit(lifecycle.submit, { ...SUBMISSION_GROUP, mayBeOneItem: (error) => !isDatabaseUnavailable(error) });

  /** With an Idempotency-Key, a webhook delivery id or a schedule's tick: the key and the task commit together, or the earlier task is returned. */
  async function insertKeyed(task: NewTask, fingerprint: string, options: SubmitOptions): Promise<{ task: Task; created: boolean }> {
    const outcome = await lifecycle.submitKeyed(task, submissionKeys(options, fingerprint));
    if ('task' in outcome) return { task: outcome.task, created: true };
    return { task: await getTask(replayedId(outcome, fingerprint, 'taskId')), created: false };
  }

  return {
    async submitTask(submission, options = {}) {
      checkAccess(options.access ?? FULL_ACCESS, submission, '');
      const runner = checkSubmission(runners, submission);
      const callbackUrl = submission.callbackUrl ?? runner.callback ?? null;
      if (callbackUrl !== null) await checkCallback(callbackUrl, 'body/callbackUrl');
      const item = prepare(submission, runner, callbackUrl, options.traceparent);
      if (options.idempotencyKey !== undefined || options.delivery !== undefined || options.tick !== undefined) {
        return insertKeyed(item, requestHash(submission), options);
      }
      return { task: await insertGrouped(item), created: true };
    },

    async submitBatch(submissions, options = {}) {
      const access = options.access ?? FULL_ACCESS;
      submissions.forEach((submission, i) => checkAccess(access, submission, `/tasks/${i}`));
      if (submissionLimitBytes !== undefined) checkBatchSizes(submissions, submissionLimitBytes);
      const runnersOf = checkBatch(runners, submissions);
      const callbackUrls = submissions.map((submission, i) => submission.callbackUrl ?? runnersOf[i]!.callback ?? null);
      await checkBatchCallbacks(checkCallback, callbackUrls);
      return lifecycle.submit(submissions.map((submission, i) => prepare(submission, runnersOf[i]!, callbackUrls[i]!, options.traceparent)));
    },

    getTask,

    async listTasks(query, access = FULL_ACCESS) {
      const limit = query.limit ?? 50;
      const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const filter: TaskFilter = {
        limit: limit + 1,
        ...(query.runner === undefined ? {} : { runner: query.runner }),
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.workflowId === undefined ? {} : { workflowId: query.workflowId }),
        ...(query.schedule === undefined ? {} : { schedule: query.schedule }),
        ...(before === undefined ? {} : { before }),
        ...listFilter(access),
      };
      if (query.fields !== 'full') return pageOf(await listTaskSummaries(pool, filter), limit);
      return pageByBytes(await listTaskSizes(pool, filter), limit, FULL_PAGE_BYTES, (ids) => findTasks(pool, ids));
    },

    async cancelTask(id, access = FULL_ACCESS) {
      const task = await getTask(id, access);
      const cancelled = await lifecycle.cancel(task.id);
      const current = await getTask(id);
      if (!cancelled) throw new AppError('TASK_FINISHED', `task '${id}' is already ${current.status}`);
      return current;
    },
  };
}

/** The keys a submission is recorded with, from its options. */
export function submissionKeys(options: SubmitOptions, fingerprint: string): SubmissionKeys {
  return {
    ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: { key: options.idempotencyKey, requestHash: fingerprint } }),
    ...(options.delivery === undefined ? {} : { delivery: options.delivery }),
    ...(options.tick === undefined ? {} : { tick: options.tick }),
  };
}

/**
 * The id an idempotent replay returns. A key recorded with another body, or for another kind of
 * submission (a workflow run's key replayed on POST /tasks), is a key reused.
 */
export function replayedId(replay: Replay, fingerprint: string, kind: 'taskId' | 'workflowId'): string {
  const id = kind in replay.replayOf ? (replay.replayOf as Record<string, string>)[kind] : undefined;
  if ((replay.requestHash !== undefined && replay.requestHash !== fingerprint) || id === undefined) {
    throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was already used with a different request body');
  }
  return id;
}

/** A checked submission, ready to be written. */
function prepare(submission: TaskSubmission, runner: Runner, callbackUrl: string | null, traceparent: string | undefined): NewTask {
  return {
    id: newTaskId(), runner: runner.name, inputJson: JSON.stringify(submission.input ?? null), priority: submission.priority ?? 0,
    runAfter: startTime(submission), maxAttempts: runner.retries.limit + 1, callbackUrl, traceparent: traceparent ?? null,
  };
}

/** Before the runner is looked up: a limited key learns nothing of runners beyond its reach. `at` prefixes the paths. */
function checkAccess(access: Access, submission: TaskSubmission, at: string): void {
  if (!mayUseRunner(access, submission.runner)) {
    throw new AppError('FORBIDDEN', `API key '${access.principal}' may not use runner '${submission.runner}'`, {
      details: [{ path: `${at}/runner`, message: 'is not among the runners this API key may use' }],
    });
  }
  checkCallbackAccess(access, submission.callbackUrl, `${at}/callbackUrl`);
}

/** A callbackUrl the client gives must fall under the key's callback prefixes, when it has any. */
export function checkCallbackAccess(access: Access, url: string | undefined, path: string): void {
  if (url === undefined || mayUseCallback(access, url)) return;
  throw new AppError('FORBIDDEN', `API key '${access.principal}' may not send callbacks to this URL`, {
    details: [{ path, message: 'is under none of the callback URLs this API key may use' }],
  });
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
    throw batchRejected('VALIDATION_FAILED', details);
  }
  return checked;
}

/**
 * A batch may not carry a task that POST /tasks would refuse as too large: the batch's own limit is
 * for many tasks, not for one big one. Each is measured as JSON (as it would be sent alone, without
 * the whitespace of the batch body), and every one over is named.
 */
function checkBatchSizes(submissions: readonly TaskSubmission[], limitBytes: number): void {
  const details = submissions.flatMap((submission, i) => {
    const bytes = Buffer.byteLength(JSON.stringify(submission));
    return bytes > limitBytes ? [{ path: `/tasks/${i}`, message: `is ${bytes} bytes as JSON, more than one submission may be (BERTH_BODY_LIMIT, ${limitBytes} bytes)` }] : [];
  });
  if (details.length > 0) {
    throw batchRejected('BODY_TOO_LARGE', details);
  }
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
  throw batchRejected('VALIDATION_FAILED', details);
}

/** A batch refused whole, naming every problem by its submission's index. */
function batchRejected(code: 'VALIDATION_FAILED' | 'BODY_TOO_LARGE', details: readonly ErrorDetail[]): AppError {
  return new AppError(code, `the batch was rejected, nothing was queued: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`, { details });
}

function startTime(submission: TaskSubmission): Date | null {
  if (submission.startAfter !== undefined) return new Date(submission.startAfter);
  if (submission.delay !== undefined && submission.delay > 0) return new Date(Date.now() + submission.delay * 1000);
  return null;
}
