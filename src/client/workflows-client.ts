/**
 * client.workflows: start, run, read, wait, cancel, retry and list workflow runs, over /workflows.
 * Types are the API's own schemas (workflow-schemas.ts).
 */
import type { WorkflowRun, WorkflowRunListQuery, WorkflowRunPage, WorkflowSubmission } from '../tasks/workflow-schemas.ts';
import { OPERATIONS } from './operations.ts';
import type { Transport } from './transport.ts';
import { everyItem, freshIdempotencyKey, waitUntil, type Page, type WaitOptions } from './waiting.ts';

export type { WorkflowRun, WorkflowRunPage };
export type WorkflowRunListItem = WorkflowRunPage['items'][number];
export type WorkflowRunFilter = Omit<WorkflowRunListQuery, 'cursor'>;

export interface WorkflowSubmitOptions {
  readonly callbackUrl?: WorkflowSubmission['callbackUrl'];
  /** A replay with the same key returns the first run and creates nothing; and the SDK may retry it. */
  readonly idempotencyKey?: string;
  readonly traceparent?: string;
  readonly signal?: AbortSignal;
}

export interface WorkflowsClient {
  submit(workflow: string, input?: unknown, options?: WorkflowSubmitOptions): Promise<WorkflowRun>;
  /** Starts a run and waits until it is final; always with an idempotency key (a fresh one unless given). */
  run(workflow: string, input?: unknown, options?: WorkflowSubmitOptions & WaitOptions): Promise<WorkflowRun>;
  get(id: string, options?: { signal?: AbortSignal }): Promise<WorkflowRun>;
  wait(id: string, options?: WaitOptions): Promise<WorkflowRun>;
  cancel(id: string, options?: { signal?: AbortSignal }): Promise<WorkflowRun>;
  /** Runs a failed run again from where it failed; succeeded steps keep their outputs. */
  retry(id: string, options?: { signal?: AbortSignal }): Promise<WorkflowRun>;
  list(filter?: WorkflowRunFilter, options?: { signal?: AbortSignal }): AsyncGenerator<WorkflowRunListItem, void, undefined>;
  listPage(filter?: WorkflowRunListQuery, options?: { signal?: AbortSignal }): Promise<WorkflowRunPage>;
}

/** A run is final once it is no longer running. */
export function isFinalRun(run: Pick<WorkflowRun, 'status'>): boolean {
  return run.status !== 'running';
}

export function workflowsClient(transport: Transport): WorkflowsClient {
  async function submit(workflow: string, input: unknown, options: WorkflowSubmitOptions): Promise<WorkflowRun> {
    const body: WorkflowSubmission = {
      workflow, input: input ?? null, ...(options.callbackUrl === undefined ? {} : { callbackUrl: options.callbackUrl }),
    };
    return (await transport.json<WorkflowRun>(OPERATIONS.submitWorkflow, {
      body, signal: options.signal, idempotent: options.idempotencyKey !== undefined,
      headers: { 'idempotency-key': options.idempotencyKey, traceparent: options.traceparent },
    })).body;
  }

  const get = async (id: string, signal: AbortSignal | undefined, wait?: number): Promise<WorkflowRun> =>
    (await transport.json<WorkflowRun>(OPERATIONS.getWorkflowRun, { params: { id }, query: { wait }, signal, idempotent: true })).body;

  const wait = (id: string, options: WaitOptions, first?: WorkflowRun): Promise<WorkflowRun> =>
    waitUntil(`workflow run ${id}`, (seconds) => get(id, options.signal, seconds), isFinalRun, options, first);

  const listPage = async (filter: WorkflowRunListQuery, signal: AbortSignal | undefined): Promise<WorkflowRunPage> =>
    (await transport.json<WorkflowRunPage>(OPERATIONS.listWorkflowRuns, { query: { ...filter }, signal, idempotent: true })).body;

  const post = async (operation: typeof OPERATIONS.cancelWorkflowRun, id: string, signal: AbortSignal | undefined): Promise<WorkflowRun> =>
    (await transport.json<WorkflowRun>(operation, { params: { id }, signal, idempotent: false })).body;

  return {
    submit: (workflow, input, options = {}) => submit(workflow, input, options),
    async run(workflow, input, options = {}) {
      const started = Date.now();
      const run = await submit(workflow, input, { ...options, idempotencyKey: options.idempotencyKey ?? freshIdempotencyKey() });
      const timeout = options.timeout === undefined ? undefined : Math.max(0, options.timeout - (Date.now() - started) / 1000);
      return wait(run.id, { ...options, ...(timeout === undefined ? {} : { timeout }) }, run);
    },
    get: (id, options = {}) => get(id, options.signal),
    wait: (id, options = {}) => wait(id, options),
    cancel: (id, options = {}) => post(OPERATIONS.cancelWorkflowRun, id, options.signal),
    retry: (id, options = {}) => post(OPERATIONS.retryWorkflowRun, id, options.signal),
    list: (filter = {}, options = {}) =>
      everyItem<WorkflowRunListItem>((cursor): Promise<Page<WorkflowRunListItem>> =>
        listPage({ ...filter, ...(cursor === undefined ? {} : { cursor }) }, options.signal)),
    listPage: (filter = {}, options = {}) => listPage(filter, options.signal),
  };
}
