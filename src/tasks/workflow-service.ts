/**
 * What clients can do with workflow runs. As for tasks, a 202 means durably stored: the run, its
 * steps and its first tasks commit in one transaction (the lifecycle's submitWorkflow), and every
 * 4xx is decided before anything is written.
 */
import { AppError } from '../errors.ts';
import type { Pool } from '../db.ts';
import { selectPointer } from '../json-pointer.ts';
import { FULL_ACCESS, likePatterns, mayUseWorkflow, type Access } from '../runners/access.ts';
import type { RunnersConfig, Workflow } from '../runners/runner.ts';
import { requestHash } from './request-hash.ts';
import { checkCallbackAccess, replayedId, submissionKeys, type CallbackCheck, type SubmitOptions } from './task-service.ts';
import { decodeCursor, pageByBytes, pageOf } from './page-cursor.ts';
import { isTaskId, newTaskId } from './task-id.ts';
import type { TaskLifecycle } from './task-lifecycle.ts';
import type { TaskWatch } from './task-watch.ts';
import type { WorkflowRun, WorkflowRunListQuery, WorkflowRunPage, WorkflowSubmission } from './workflow-schemas.ts';
import { FULL_PAGE_BYTES } from './task-schemas.ts';
import { definitionOf, findRun, findRuns, listRunSizes, listRunSummaries, type RunFilter } from './workflow-store.ts';

/** A run as clients see it, for other features' reads (the callback sender); null when missing. */
export function readRun(pool: Pool, id: string): Promise<WorkflowRun | null> {
  return findRun(pool, id);
}

export interface WorkflowService {
  /** `created` is false when an idempotent replay (or a webhook's redelivery) returned the run created the first time. */
  submit(submission: WorkflowSubmission, options?: SubmitOptions): Promise<{ run: WorkflowRun; created: boolean }>;
  /** With waitMs, held until the run is final or the time is up. */
  get(id: string, waitMs?: number, access?: Access): Promise<WorkflowRun>;
  list(query: WorkflowRunListQuery, access?: Access): Promise<WorkflowRunPage>;
  cancel(id: string, access?: Access): Promise<WorkflowRun>;
  retry(id: string, access?: Access): Promise<WorkflowRun>;
}

export function createWorkflowService(deps: {
  pool: Pool; lifecycle: TaskLifecycle; runners: RunnersConfig; watch: TaskWatch; checkCallback: CallbackCheck;
}): WorkflowService {
  const { pool, lifecycle, watch } = deps;

  /** A run outside `access` reads as missing. */
  async function load(id: string, access = FULL_ACCESS): Promise<WorkflowRun> {
    const run = isTaskId(id) ? await findRun(pool, id) : null;
    if (run === null || !mayUseWorkflow(access, run.workflow)) throw new AppError('WORKFLOW_RUN_NOT_FOUND', `no workflow run with id '${id}'`);
    return run;
  }

  return {
    async submit(submission, options = {}) {
      const access = options.access ?? FULL_ACCESS;
      if (!mayUseWorkflow(access, submission.workflow)) {
        throw new AppError('FORBIDDEN', `API key '${access.principal}' may not use workflow '${submission.workflow}'`, {
          details: [{ path: '/workflow', message: 'is not among the workflows this API key may use' }],
        });
      }
      checkCallbackAccess(access, submission.callbackUrl, '/callbackUrl');
      const workflow = checkSubmission(deps.runners, submission);
      const callbackUrl = submission.callbackUrl ?? workflow.callback ?? null;
      if (callbackUrl !== null) await deps.checkCallback(callbackUrl, 'body/callbackUrl');
      const input = submission.input ?? null;
      const id = newTaskId();
      const fingerprint = requestHash(submission);
      const replay = await lifecycle.submitWorkflow(
        { id, workflow: workflow.name, inputJson: JSON.stringify(input), definition: definitionOf(workflow), callbackUrl, traceparent: options.traceparent ?? null },
        input, submissionKeys(options, fingerprint),
      );
      if (replay === null) return { run: await load(id), created: true };
      return { run: await load(replayedId(replay, fingerprint, 'workflowId')), created: false };
    },

    async get(id, waitMs, access = FULL_ACCESS) {
      if (waitMs === undefined || waitMs === 0) return load(id, access);
      await load(id, access);
      return watch.waitFor(id, waitMs, () => load(id, access), (run) => run.status !== 'running');
    },

    async list(query, access = FULL_ACCESS) {
      const limit = query.limit ?? 50;
      const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const filter: RunFilter = {
        limit: limit + 1,
        ...(query.workflow === undefined ? {} : { workflow: query.workflow }),
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.schedule === undefined ? {} : { schedule: query.schedule }),
        ...(before === undefined ? {} : { before }),
        ...(access.workflows === undefined ? {} : { workflowLike: likePatterns(access.workflows) }),
      };
      if (query.fields !== 'full') return pageOf(await listRunSummaries(pool, filter), limit);
      return pageByBytes(await listRunSizes(pool, filter), limit, FULL_PAGE_BYTES, (ids) => findRuns(pool, ids));
    },

    async cancel(id, access = FULL_ACCESS) {
      await load(id, access);
      const change = await lifecycle.cancelWorkflow(id);
      const run = await load(id);
      if (change === 'refused') throw new AppError('WORKFLOW_RUN_FINISHED', `workflow run '${id}' is already ${run.status}`);
      return run;
    },

    async retry(id, access = FULL_ACCESS) {
      await load(id, access);
      const change = await lifecycle.retryWorkflow(id);
      const run = await load(id);
      if (change === 'refused') throw new AppError('WORKFLOW_RUN_NOT_FAILED', `workflow run '${id}' is ${run.status}; only a failed run can be retried`);
      return run;
    },
  };
}

/**
 * Everything decided before anything is written: the workflow exists, the input matches its
 * input_schema, and each for_each over the run's input selects an array within its step's limit.
 */
function checkSubmission(runners: RunnersConfig, submission: WorkflowSubmission): Workflow {
  const workflow = runners.workflows?.get(submission.workflow);
  if (workflow === undefined) {
    throw new AppError('UNKNOWN_WORKFLOW', `unknown workflow '${submission.workflow}'`, {
      details: [{ path: '/workflow', message: `no workflow named '${submission.workflow}' is configured` }],
    });
  }
  const input = submission.input ?? null;
  const violations = [...workflow.validateInput(input)];
  for (const step of workflow.steps) {
    // Pointers into parents' outputs can only be checked when the step is released.
    if (step.forEach === undefined || !(step.forEach === '/input' || step.forEach.startsWith('/input/'))) continue;
    const selected = selectPointer({ input }, step.forEach);
    const each = `step '${step.id}' runs once for each of its elements`;
    if (!selected.found) violations.push({ path: step.forEach, message: `is required: ${each}` });
    else if (!Array.isArray(selected.value)) violations.push({ path: step.forEach, message: `must be an array: ${each}` });
    else if (selected.value.length > step.maxItems) {
      violations.push({ path: step.forEach, message: `has ${selected.value.length} elements, more than step '${step.id}' takes (max_items ${step.maxItems})` });
    }
  }
  if (violations.length > 0) {
    const list = violations.map((v) => `${v.path}: ${v.message}`).join('; ');
    throw new AppError('INPUT_INVALID', `input does not suit workflow '${workflow.name}': ${list}`, { details: violations });
  }
  return workflow;
}
