/**
 * SQL for workflow runs and their steps (berth.workflow_runs, workflow_steps, workflow_step_parents):
 * one exported function per statement. Writes happen only inside the lifecycle's transactions, each
 * of which first locks the run's row (lockRun), so every change to one run is serialised.
 */
import { prepared, type Queryable } from '../db.ts';
import type { Workflow, WorkflowStep } from '../runners/runner.ts';
import type { ScheduledStart } from './task-store.ts';
import type { WorkflowRun, WorkflowRunSummary } from './workflow-schemas.ts';
import type { StepError, StepFinalStatus, StepTaskResult } from './workflow-steps.ts';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepStatus = 'pending' | 'active' | StepFinalStatus;

/** What a run keeps of its workflow's declaration: its steps, as submitted. */
export interface RunDefinition {
  readonly steps: readonly WorkflowStep[];
  readonly sinks: readonly string[];
}

export function definitionOf(workflow: Workflow): RunDefinition {
  return { steps: workflow.steps, sinks: workflow.sinks };
}

export interface NewRun {
  readonly id: string;
  readonly workflow: string;
  readonly inputJson: string;
  readonly definition: RunDefinition;
  readonly callbackUrl: string | null;
  /** Set for a run a schedule started. */
  readonly scheduled?: ScheduledStart;
  /** W3C traceparent it was submitted with; its step tasks inherit it. */
  readonly traceparent?: string | null;
}

/** A run as its transactions see it, under its row lock. */
export interface LockedRun {
  readonly id: string;
  readonly status: RunStatus;
  readonly input: unknown;
  readonly definition: RunDefinition;
  readonly callbackUrl: string | null;
  readonly traceparent: string | null;
}

export interface StepRow {
  readonly stepId: string;
  readonly status: StepStatus;
  readonly generation: number;
  readonly items: number | null;
  readonly output: unknown;
  readonly error: StepError | null;
  readonly finishedAt: Date | null;
}

export async function insertRun(db: Queryable, run: NewRun): Promise<void> {
  await db.query(prepared(
    `with run as (
       insert into berth.workflow_runs (id, workflow, input, input_bytes, definition, callback_url, schedule, scheduled_for, traceparent)
       values ($1, $2, $3::text::json, octet_length($3::text), $4::jsonb, $5, $7, $8, $9))
     insert into berth.workflow_steps (run_id, step_id) select $1, unnest($6::text[])`,
    [run.id, run.workflow, run.inputJson, JSON.stringify(run.definition), run.callbackUrl, run.definition.steps.map((step) => step.id),
      run.scheduled?.schedule ?? null, run.scheduled?.scheduledFor ?? null, run.traceparent ?? null],
  ));
}

/** The run, locked until the transaction ends; null when there is none. */
export async function lockRun(db: Queryable, id: string): Promise<LockedRun | null> {
  const { rows } = await db.query<{
    id: string; status: RunStatus; input: unknown; definition: RunDefinition; callback_url: string | null; traceparent: string | null;
  }>(prepared(
    'select id, status, input, definition, callback_url, traceparent from berth.workflow_runs where id = $1 for update',
    [id],
  ));
  const row = rows[0];
  return row === undefined ? null : {
    id: row.id, status: row.status, input: row.input, definition: row.definition, callbackUrl: row.callback_url, traceparent: row.traceparent,
  };
}

export async function findSteps(db: Queryable, runId: string): Promise<StepRow[]> {
  const { rows } = await db.query<{
    step_id: string; status: StepStatus; generation: number; items: number | null; output: unknown; error: StepError | null; finished_at: Date | null;
  }>(prepared(
    `select step_id, status, generation, items, output, error, finished_at from berth.workflow_steps where run_id = $1
      order by finished_at nulls last, step_id`,
    [runId],
  ));
  return rows.map((row) => ({
    stepId: row.step_id, status: row.status, generation: row.generation, items: row.items,
    output: row.output, error: row.error, finishedAt: row.finished_at,
  }));
}

/** pending → active: its tasks are being made (`items` for a for_each step). */
export async function activateStep(db: Queryable, runId: string, stepId: string, items: number | null): Promise<void> {
  await db.query(prepared(
    `update berth.workflow_steps set status = 'active', items = $3 where run_id = $1 and step_id = $2 and status = 'pending'`,
    [runId, stepId, items],
  ));
}

/** pending | active → final, with what its children will see of it. */
export async function finishStep(
  db: Queryable, runId: string, stepId: string, result: { status: StepFinalStatus; output: unknown; error: StepError | null },
): Promise<void> {
  await db.query(prepared(
    `update berth.workflow_steps set status = $3, output = $4::json, error = $5::jsonb, finished_at = clock_timestamp()
      where run_id = $1 and step_id = $2 and status in ('pending', 'active')`,
    [runId, stepId, result.status, JSON.stringify(result.output ?? null), result.error === null ? null : JSON.stringify(result.error)],
  ));
}

/** How many tasks of one generation of a step are not final yet: asked at every task's end, so it reads no outputs. */
export async function countUnfinishedStepTasks(db: Queryable, runId: string, stepId: string, generation: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(prepared(
    `select count(*)::int as n from berth.tasks
      where workflow_id = $1 and step_id = $2 and step_generation = $3 and status in ('queued', 'running')`,
    [runId, stepId, generation],
  ));
  return rows[0]!.n;
}

/** The final tasks of one generation of a step and how many are not final yet. */
export async function stepTasks(
  db: Queryable, runId: string, stepId: string, generation: number,
): Promise<{ final: StepTaskResult[]; unfinished: number }> {
  const { rows } = await db.query<{ status: string; output: unknown; error_code: string | null; error_message: string | null; item_index: number | null }>(prepared(
    `select status, output, error_code, error_message, item_index from berth.tasks
      where workflow_id = $1 and step_id = $2 and step_generation = $3 order by item_index nulls first`,
    [runId, stepId, generation],
  ));
  const final = rows.filter((row) => row.status === 'succeeded' || row.status === 'failed' || row.status === 'cancelled');
  return {
    final: final.map((row) => ({
      status: row.status, output: row.output ?? null, itemIndex: row.item_index,
      error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    })),
    unfinished: rows.length - final.length,
  };
}

/**
 * Records that `parentId` is final, as `stepId` sees it. When this call recorded it: how many of its
 * parents the step has now seen final, this one included. null when it had been recorded before.
 */
export async function recordParentFinal(db: Queryable, runId: string, stepId: string, parentId: string): Promise<number | null> {
  const { rows } = await db.query<{ seen: number }>(prepared(
    `with recorded as (
       insert into berth.workflow_step_parents (run_id, step_id, parent_id) values ($1, $2, $3) on conflict do nothing returning 1)
     select (select count(*)::int from berth.workflow_step_parents where run_id = $1 and step_id = $2) + 1 as seen from recorded`,
    [runId, stepId, parentId],
  ));
  return rows[0]?.seen ?? null;
}

/** running → final. Returns when it ended: what identifies this end (a retried run may end again). */
export async function finishRun(
  db: Queryable, runId: string, status: Exclude<RunStatus, 'running'>, output: unknown, error: unknown,
): Promise<Date> {
  const { rows } = await db.query<{ finished_at: Date }>(prepared(
    `update berth.workflow_runs set status = $2, output = $3::text::json, output_bytes = octet_length($3::text), error = $4::jsonb,
            finished_at = now()
      where id = $1 and status = 'running'
     returning finished_at`,
    [runId, status, output === null ? null : JSON.stringify(output), error === null ? null : JSON.stringify(error)],
  ));
  return rows[0]!.finished_at;
}

/** Every step not yet final becomes cancelled. */
export async function cancelSteps(db: Queryable, runId: string): Promise<void> {
  await db.query(prepared(
    `update berth.workflow_steps set status = 'cancelled', finished_at = clock_timestamp()
      where run_id = $1 and status in ('pending', 'active')`,
    [runId],
  ));
}

/** The run's tasks that are not final yet. */
export async function unfinishedTasks(db: Queryable, runId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(prepared(
    `select id from berth.tasks where workflow_id = $1 and status in ('queued', 'running') order by id`,
    [runId],
  ));
  return rows.map((row) => row.id);
}

/** A retry of the run: these steps (failed, cancelled or skipped) go back to pending, as a new generation. */
export async function resetSteps(db: Queryable, runId: string, stepIds: readonly string[]): Promise<void> {
  await db.query(prepared(
    `with forgotten as (
       -- Their parents' completions stay, except those of parents that run again too.
       delete from berth.workflow_step_parents where run_id = $1 and step_id = any($2::text[]) and parent_id = any($2::text[]))
     update berth.workflow_steps set status = 'pending', generation = generation + 1, items = null, output = null, error = null, finished_at = null
      where run_id = $1 and step_id = any($2::text[])`,
    [runId, stepIds],
  ));
}

/** failed → running, for a retry. */
export async function reopenRun(db: Queryable, runId: string): Promise<void> {
  await db.query(prepared(
    `update berth.workflow_runs set status = 'running', output = null, output_bytes = null, error = null, finished_at = null
      where id = $1 and status = 'failed'`,
    [runId],
  ));
}

/** How many parents each step of the run has seen final. */
export async function parentsSeen(db: Queryable, runId: string): Promise<Map<string, number>> {
  const { rows } = await db.query<{ step_id: string; seen: number }>(prepared(
    'select step_id, count(*)::int as seen from berth.workflow_step_parents where run_id = $1 group by step_id',
    [runId],
  ));
  return new Map(rows.map((row) => [row.step_id, row.seen]));
}

interface RunViewRow {
  id: string;
  workflow: string;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: WorkflowRun['error'];
  callback_url: string | null;
  created_at: Date;
  finished_at: Date | null;
  definition: RunDefinition;
  schedule: string | null;
  scheduled_for: Date | null;
  traceparent: string | null;
  steps: { step_id: string; status: StepStatus; generation: number; error: StepError | null }[];
  tasks: { id: string; step_id: string; generation: number; status: string }[] | null;
}

const RUN_SELECT = `r.id, r.workflow, r.status, r.input, r.output, r.error, r.callback_url, r.created_at, r.finished_at, r.definition,
  r.schedule, r.scheduled_for, r.traceparent,
  (select json_agg(json_build_object('step_id', s.step_id, 'status', s.status, 'generation', s.generation, 'error', s.error))
     from berth.workflow_steps s where s.run_id = r.id) as steps,
  (select json_agg(json_build_object('id', t.id, 'step_id', t.step_id, 'generation', t.step_generation, 'status', t.status)
            order by t.item_index nulls first, t.id)
     from berth.tasks t where t.workflow_id = r.id) as tasks`;

function toRunSummary(row: RunViewRow): WorkflowRunSummary {
  return {
    id: row.id,
    workflow: row.workflow,
    status: row.status,
    error: row.error ?? null,
    callbackUrl: row.callback_url,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at === null ? null : row.finished_at.toISOString(),
    schedule: row.schedule,
    scheduledFor: row.scheduled_for === null ? null : row.scheduled_for.toISOString(),
    traceparent: row.traceparent,
  };
}

/** A run as clients see it. An active step reads as queued until one of its tasks has started. */
function toRun(row: RunViewRow): WorkflowRun {
  const steps = new Map(row.steps.map((s) => [s.step_id, s]));
  return {
    ...toRunSummary(row),
    input: row.input,
    output: row.output ?? null,
    steps: row.definition.steps.map((step) => {
      const state = steps.get(step.id)!;
      const tasks = (row.tasks ?? []).filter((t) => t.step_id === step.id && t.generation === state.generation);
      const started = tasks.some((t) => t.status !== 'queued');
      return {
        id: step.id, runner: step.runner, needs: [...step.needs],
        status: state.status === 'active' ? (started ? 'running' : 'queued') : state.status,
        taskIds: tasks.map((t) => t.id),
        error: state.error ?? null,
      };
    }),
  };
}

export async function findRun(db: Queryable, id: string): Promise<WorkflowRun | null> {
  const { rows } = await db.query<RunViewRow>(`select ${RUN_SELECT} from berth.workflow_runs r where r.id = $1`, [id]);
  return rows[0] === undefined ? null : toRun(rows[0]);
}

/** The workflow a run is of, or null when there is no such run. */
export async function findRunWorkflow(db: Queryable, id: string): Promise<string | null> {
  const { rows } = await db.query<{ workflow: string }>('select workflow from berth.workflow_runs where id = $1', [id]);
  return rows[0]?.workflow ?? null;
}

/** Whole runs by id (a page of fields=full), in no particular order. */
export async function findRuns(db: Queryable, ids: readonly string[]): Promise<WorkflowRun[]> {
  const { rows } = await db.query<RunViewRow>(`select ${RUN_SELECT} from berth.workflow_runs r where r.id = any($1::uuid[])`, [ids]);
  return rows.map(toRun);
}

/** What GET /workflows filters by; `before` is the cursor's id. */
export interface RunFilter {
  readonly workflow?: string; readonly status?: RunStatus; readonly schedule?: string; readonly before?: string; readonly limit: number;
  /** Only workflows matching one of these LIKE patterns (an API key's workflows). */
  readonly workflowLike?: readonly string[];
}

/** Newest first; ids are UUIDv7, so `id < before` pages are stable under concurrent submissions. */
const FILTERED_RUNS = `from berth.workflow_runs r
      where ($1::text is null or r.workflow = $1) and ($2::text is null or r.status = $2) and ($3::uuid is null or r.id < $3)
        and ($5::text is null or r.schedule = $5) and ($6::text[] is null or r.workflow like any($6))
      order by r.id desc limit $4`;

function runFilterParams(filter: RunFilter): unknown[] {
  return [filter.workflow ?? null, filter.status ?? null, filter.before ?? null, filter.limit, filter.schedule ?? null, filter.workflowLike ?? null];
}

/** A page of runs without their input, output and steps: what a listing needs, bounded in size. */
export async function listRunSummaries(db: Queryable, filter: RunFilter): Promise<WorkflowRunSummary[]> {
  const { rows } = await db.query<RunViewRow>(
    `select r.id, r.workflow, r.status, r.error, r.callback_url, r.created_at, r.finished_at, r.schedule, r.scheduled_for, r.traceparent
     ${FILTERED_RUNS}`,
    runFilterParams(filter),
  );
  return rows.map(toRunSummary);
}

/** The same page's ids with the bytes of each run's input and output, as written with them (0011; before it, their stored size). */
export async function listRunSizes(db: Queryable, filter: RunFilter): Promise<{ id: string; bytes: number }[]> {
  const { rows } = await db.query<{ id: string; bytes: number }>(
    `select r.id, (coalesce(r.input_bytes, pg_column_size(r.input)) + coalesce(r.output_bytes, pg_column_size(r.output), 0))::float8 as bytes
     ${FILTERED_RUNS}`,
    runFilterParams(filter),
  );
  return rows;
}

/** Deletes up to `limit` runs that finished before the retention period, with their steps and tasks. */
export async function deleteExpiredRuns(db: Queryable, retentionMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from berth.workflow_runs where id in (
       select id from berth.workflow_runs where finished_at < now() - make_interval(secs => $1::bigint / 1000.0) limit $2)`,
    [retentionMs, limit],
  );
  return rowCount ?? 0;
}
