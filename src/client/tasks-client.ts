/**
 * client.tasks: submit, run, read, wait, cancel, list and logs, over /tasks. Types are the API's
 * own TypeBox schemas (task-schemas.ts), so the SDK cannot drift from what the API validates.
 */
import type { Task, TaskListQuery, TaskPage, TaskSubmission } from '../tasks/task-schemas.ts';
import { FINAL_STATUSES } from '../tasks/task-status.ts';
import { BerthError } from './berth-error.ts';
import { OPERATIONS } from './operations.ts';
import type { Transport } from './transport.ts';
import { everyItem, freshIdempotencyKey, HELD_SECONDS, textChunks, waitUntil, type Page, type WaitOptions } from './waiting.ts';

export type { Task, TaskPage };
export type TaskListItem = TaskPage['items'][number];
export type TaskFilter = Omit<TaskListQuery, 'cursor'>;

export interface SubmitOptions {
  /** Higher runs first, -1000 to 1000; default 0. */
  readonly priority?: TaskSubmission['priority'];
  /** Seconds from now before it may start. */
  readonly delay?: TaskSubmission['delay'];
  readonly startAfter?: Date | string;
  readonly callbackUrl?: TaskSubmission['callbackUrl'];
  /** Makes the submission safe to repeat: a replay returns the first task and queues nothing; and the SDK may retry it. */
  readonly idempotencyKey?: string;
  /** A W3C traceparent to carry into the container and the callbacks. */
  readonly traceparent?: string;
  readonly signal?: AbortSignal;
}

export interface LogOptions {
  /** Stream stderr as it is written, across retries, until the task ends. */
  readonly follow?: boolean;
  /** Which attempt's log; default the latest. */
  readonly attempt?: number;
  readonly signal?: AbortSignal;
}

export interface TasksClient {
  submit(runner: string, input?: unknown, options?: SubmitOptions): Promise<Task>;
  /** Many tasks in one request and one transaction: all are queued, or (a 400 naming each problem) none. */
  submitBatch(tasks: readonly TaskSubmission[], options?: { signal?: AbortSignal }): Promise<Task[]>;
  /**
   * Submits and waits until the task is final (succeeded, failed or cancelled: check `status`).
   * Always with an idempotency key (a fresh one unless given), so a connection lost while the
   * submission is held is retried without queuing the task twice.
   */
  run(runner: string, input?: unknown, options?: SubmitOptions & WaitOptions): Promise<Task>;
  get(id: string, options?: { signal?: AbortSignal }): Promise<Task>;
  /** The task once final; BerthError WAIT_TIMEOUT (its `last` the task as last seen) after `timeout` seconds. */
  wait(id: string, options?: WaitOptions): Promise<Task>;
  cancel(id: string, options?: { signal?: AbortSignal }): Promise<Task>;
  /** Every task matching the filter, newest first, page after page as the iteration goes on. */
  list(filter?: TaskFilter, options?: { signal?: AbortSignal }): AsyncGenerator<TaskListItem, void, undefined>;
  listPage(filter?: TaskListQuery, options?: { signal?: AbortSignal }): Promise<TaskPage>;
  /** stderr as text chunks; with follow, as it is written until the task ends. */
  logs(id: string, options?: LogOptions): AsyncGenerator<string, void, undefined>;
}

export function isFinalTask(task: Pick<Task, 'status'>): boolean {
  return FINAL_STATUSES.includes(task.status);
}

export function tasksClient(transport: Transport): TasksClient {
  async function submit(runner: string, input: unknown, options: SubmitOptions, waitSeconds?: number): Promise<Task> {
    const { startAfter, idempotencyKey, traceparent, signal, priority, delay, callbackUrl } = options;
    const body: TaskSubmission = {
      runner, input: input ?? null,
      ...(priority === undefined ? {} : { priority }),
      ...(delay === undefined ? {} : { delay }),
      ...(startAfter === undefined ? {} : { startAfter: startAfter instanceof Date ? startAfter.toISOString() : startAfter }),
      ...(callbackUrl === undefined ? {} : { callbackUrl }),
    };
    const { body: task } = await transport.json<Task>(OPERATIONS.submitTask, {
      body, signal, idempotent: idempotencyKey !== undefined,
      headers: {
        'idempotency-key': idempotencyKey, traceparent,
        // Prefer: wait takes whole seconds; under one, the wait is left to waitUntil's ?wait=.
        prefer: waitSeconds === undefined || waitSeconds < 1 ? undefined : `wait=${Math.floor(waitSeconds)}`,
      },
    });
    return task;
  }

  const get = async (id: string, signal: AbortSignal | undefined, wait?: number): Promise<Task> =>
    (await transport.json<Task>(OPERATIONS.getTask, { params: { id }, query: { wait }, signal, idempotent: true })).body;

  const wait = (id: string, options: WaitOptions, first?: Task): Promise<Task> =>
    waitUntil(`task ${id}`, (seconds) => get(id, options.signal, seconds), isFinalTask, options, first);

  const listPage = async (filter: TaskListQuery, signal: AbortSignal | undefined): Promise<TaskPage> =>
    (await transport.json<TaskPage>(OPERATIONS.listTasks, { query: { ...filter }, signal, idempotent: true })).body;

  return {
    submit: (runner, input, options = {}) => submit(runner, input, options),
    async submitBatch(tasks, options = {}) {
      const { body } = await transport.json<{ tasks: Task[] }>(OPERATIONS.submitBatch, {
        body: { tasks }, signal: options.signal, idempotent: false,
      });
      return body.tasks;
    },
    async run(runner, input, options = {}) {
      const started = Date.now();
      const keyed = { ...options, idempotencyKey: options.idempotencyKey ?? freshIdempotencyKey() };
      const task = await submit(runner, input, keyed, Math.min(HELD_SECONDS, options.timeout ?? HELD_SECONDS));
      const timeout = options.timeout === undefined ? undefined : Math.max(0, options.timeout - (Date.now() - started) / 1000);
      return wait(task.id, { ...options, ...(timeout === undefined ? {} : { timeout }) }, task);
    },
    get: (id, options = {}) => get(id, options.signal),
    wait: (id, options = {}) => wait(id, options),
    cancel: async (id, options = {}) =>
      (await transport.json<Task>(OPERATIONS.cancelTask, { params: { id }, signal: options.signal, idempotent: false })).body,
    list: (filter = {}, options = {}) =>
      everyItem<TaskListItem>((cursor): Promise<Page<TaskListItem>> => listPage({ ...filter, ...(cursor === undefined ? {} : { cursor }) }, options.signal)),
    listPage: (filter = {}, options = {}) => listPage(filter, options.signal),
    async *logs(id, options = {}) {
      const response = await transport.raw(OPERATIONS.taskLogs, {
        params: { id }, query: { follow: options.follow === true ? true : undefined, attempt: options.attempt },
        signal: options.signal, idempotent: true,
      });
      yield* textChunks(response, `GET /tasks/${id}/logs`, options.signal);
      // A followed log also ends when the server shuts down: only a final task means the log is whole.
      if (options.follow === true && !isFinalTask(await get(id, options.signal))) {
        throw new BerthError({ statusCode: 0, code: 'NETWORK_ERROR', message: `the log stream ended before task ${id} did (the server closed it; follow again to go on)` });
      }
    },
  };
}
