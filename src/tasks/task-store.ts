/**
 * SQL for berth.tasks: one exported function per statement. A claim and a finish also write the
 * attempt's record in berth.task_attempts, in the same statement, to spare the round trips.
 * Invariant: every write made on behalf of an attempt names that attempt (`attempts = $n` and
 * status 'running'), so an attempt that lost its claim can never overwrite a newer one.
 */
import { prepared, type Queryable } from '../db.ts';
import type { AttemptErrorCode, Task, TaskAttempt, TaskErrorCode, TaskSummary } from './task-schemas.ts';
import { TRANSITIONS, type TaskStatus } from './task-status.ts';

interface TaskRow extends SummaryRow {
  input: unknown;
  output: unknown;
  history: AttemptJson[];
  callbacks: CallbackJson[];
}

interface SummaryRow {
  id: string;
  runner: string;
  status: TaskStatus;
  error_code: TaskErrorCode | null;
  error_message: string | null;
  exit_code: number | null;
  attempts: number;
  max_attempts: number;
  priority: number;
  created_at: Date;
  run_after: Date | null;
  next_attempt_at: Date | null;
  started_at: Date | null;
  finished_at: Date | null;
  callback_url: string | null;
  workflow_id: string | null;
  step_id: string | null;
  schedule: string | null;
  scheduled_for: Date | null;
  traceparent: string | null;
}

interface CallbackJson {
  attempt: number;
  attempted_at: string;
  status_code: number | null;
  error: string | null;
}

/** task_attempts rows as json_agg renders them: timestamps are strings. */
interface AttemptJson {
  attempt: number;
  started_at: string;
  finished_at: string | null;
  exit_code: number | null;
  error_code: AttemptErrorCode | null;
  error_message: string | null;
}

/** berth.tasks' columns a Task shows; named, never `*`, since hot statements are prepared (db.ts). */
const TASK_COLUMNS = `id, runner, status, input, output, error_code, error_message, exit_code,
  attempts, max_attempts, priority, created_at, run_after, next_attempt_at, started_at, finished_at, callback_url,
  workflow_id, step_id, schedule, scheduled_for, traceparent`;

/** Every column a Task needs, for a query over `berth.tasks t`. */
/** A task's columns but its input, output and histories: a listing's. */
const TASK_SUMMARY_SELECT = `t.id, t.runner, t.status, t.error_code, t.error_message, t.exit_code,
  t.attempts, t.max_attempts, t.priority, t.created_at, t.run_after, t.next_attempt_at, t.started_at, t.finished_at,
  t.callback_url, t.workflow_id, t.step_id, t.schedule, t.scheduled_for, t.traceparent`;

export const TASK_SELECT = `${TASK_SUMMARY_SELECT}, t.input, t.output,
  coalesce((select json_agg(a order by a.attempt) from berth.task_attempts a where a.task_id = t.id), '[]') as history,
  coalesce((select json_agg(c order by c.attempt) from berth.callback_deliveries c where c.task_id = t.id), '[]') as callbacks`;

/** The run time of a task's attempt as it ends, in ms: from its claim (started_at) to now. */
const RUN_MS = '(extract(epoch from now() - started_at) * 1000)::float8';

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

function toAttempt(a: AttemptJson): TaskAttempt {
  return {
    attempt: a.attempt,
    startedAt: iso(a.started_at)!,
    finishedAt: iso(a.finished_at),
    exitCode: a.exit_code,
    error: a.error_code === null ? null : { code: a.error_code, message: a.error_message ?? '' },
  };
}

export function toTask(row: TaskRow): Task {
  return {
    ...toTaskSummary(row),
    input: row.input,
    output: row.output ?? null,
    attemptHistory: row.history.map(toAttempt),
    callbackDeliveries: row.callbacks.map((c) => ({
      attempt: c.attempt, attemptedAt: iso(c.attempted_at)!, statusCode: c.status_code, error: c.error,
    })),
  };
}

function toTaskSummary(row: SummaryRow): TaskSummary {
  return {
    id: row.id,
    runner: row.runner,
    status: row.status,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    exitCode: row.exit_code,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    createdAt: row.created_at.toISOString(),
    runAfter: iso(row.run_after),
    nextAttemptAt: iso(row.next_attempt_at),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    callbackUrl: row.callback_url,
    workflowId: row.workflow_id,
    stepId: row.step_id,
    schedule: row.schedule,
    scheduledFor: iso(row.scheduled_for),
    traceparent: row.traceparent,
  };
}

export interface NewTask {
  readonly id: string;
  readonly runner: string;
  /** Stored as text (json, not jsonb) so the worker sends exactly these bytes. */
  readonly inputJson: string;
  readonly priority: number;
  readonly runAfter: Date | null;
  readonly maxAttempts: number;
  readonly callbackUrl: string | null;
  /** Set for a workflow step's task. */
  readonly step?: StepOfRun;
  /** Set for a task a schedule started (insertTask only: a scheduled task is submitted alone). */
  readonly scheduled?: ScheduledStart;
  /** W3C traceparent the task was submitted with (valid: trace-context.ts), handed to its container and callbacks. */
  readonly traceparent?: string | null;
}

/** The schedule and tick that started a task or a run. */
export interface ScheduledStart {
  readonly schedule: string;
  readonly scheduledFor: Date;
}

/** Which step of which run a task belongs to: the generation is the run's retry it was made for. */
export interface StepOfRun {
  readonly workflowId: string;
  readonly stepId: string;
  readonly generation: number;
  /** for_each: the element's index; null for a step of one task. */
  readonly itemIndex: number | null;
}

export async function insertTask(db: Queryable, task: NewTask): Promise<Task> {
  const { rows } = await db.query<TaskRow>(prepared(
    `with t as (
       insert into berth.tasks (id, runner, input, input_bytes, priority, run_after, max_attempts, callback_url, schedule, scheduled_for, traceparent)
       values ($1, $2, $3::text::json, octet_length($3::text), $4, $5, $6, $7, $8, $9, $10) returning ${TASK_COLUMNS})
     select ${TASK_SELECT} from t`,
    [task.id, task.runner, task.inputJson, task.priority, task.runAfter, task.maxAttempts, task.callbackUrl,
      task.scheduled?.schedule ?? null, task.scheduled?.scheduledFor ?? null, task.traceparent ?? null],
  ));
  return toTask(rows[0]!);
}

/** Many tasks in one statement (batch submission, a workflow's released steps); new tasks have no attempts yet. */
export async function insertTasks(db: Queryable, tasks: readonly NewTask[]): Promise<Task[]> {
  const { rows } = await db.query<TaskRow>(prepared(
    `insert into berth.tasks (id, runner, input, input_bytes, priority, run_after, max_attempts, callback_url, workflow_id, step_id, step_generation,
                              item_index, traceparent)
     select id, runner, input::json, octet_length(input), priority, run_after, max_attempts, callback_url, workflow_id, step_id, step_generation,
            item_index, traceparent
       from unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::int[], $7::text[],
                   $8::uuid[], $9::text[], $10::int[], $11::int[], $12::text[])
            as t (id, runner, input, priority, run_after, max_attempts, callback_url, workflow_id, step_id, step_generation, item_index, traceparent)
     returning ${TASK_COLUMNS}, '[]'::json as history, '[]'::json as callbacks`,
    [
      tasks.map((t) => t.id), tasks.map((t) => t.runner), tasks.map((t) => t.inputJson),
      tasks.map((t) => t.priority), tasks.map((t) => t.runAfter), tasks.map((t) => t.maxAttempts),
      tasks.map((t) => t.callbackUrl), ...stepColumns(tasks), tasks.map((t) => t.traceparent ?? null),
    ],
  ));
  return rows.map(toTask);
}

/**
 * Workflow steps' tasks that fail before any attempt (new → failed, the reject transition): their input does not match
 * their runner's input_schema, so no container runs. `message` says why, per task.
 */
export async function insertFailedTasks(db: Queryable, tasks: readonly (NewTask & { readonly message: string })[]): Promise<void> {
  await db.query(prepared(
    `insert into berth.tasks (id, runner, input, input_bytes, priority, max_attempts, callback_url, workflow_id, step_id, step_generation, item_index,
                              traceparent, status, error_code, error_message, finished_at)
     select id, runner, input::json, octet_length(input), priority, max_attempts, callback_url, workflow_id, step_id, step_generation, item_index,
            traceparent, 'failed', 'invalid_input', message, now()
       from unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::uuid[], $8::text[], $9::int[], $10::int[], $11::text[],
                   $12::text[])
            as t (id, runner, input, priority, max_attempts, callback_url, workflow_id, step_id, step_generation, item_index, message, traceparent)`,
    [
      tasks.map((t) => t.id), tasks.map((t) => t.runner), tasks.map((t) => t.inputJson), tasks.map((t) => t.priority),
      tasks.map((t) => t.maxAttempts), tasks.map((t) => t.callbackUrl), ...stepColumns(tasks), tasks.map((t) => t.message),
      tasks.map((t) => t.traceparent ?? null),
    ],
  ));
}

function stepColumns(tasks: readonly NewTask[]): [(string | null)[], (string | null)[], (number | null)[], (number | null)[]] {
  return [
    tasks.map((t) => t.step?.workflowId ?? null), tasks.map((t) => t.step?.stepId ?? null),
    tasks.map((t) => t.step?.generation ?? null), tasks.map((t) => t.step?.itemIndex ?? null),
  ];
}

export async function findTask(db: Queryable, id: string): Promise<Task | null> {
  const { rows } = await db.query<TaskRow>(prepared(`select ${TASK_SELECT} from berth.tasks t where t.id = $1`, [id]));
  return rows[0] === undefined ? null : toTask(rows[0]);
}

export async function findTasks(db: Queryable, ids: readonly string[]): Promise<Task[]> {
  const { rows } = await db.query<TaskRow>(`select ${TASK_SELECT} from berth.tasks t where t.id = any($1::uuid[])`, [ids]);
  return rows.map(toTask);
}

/** What GET /tasks filters by; `before` is the cursor's id. */
export interface TaskFilter {
  readonly runner?: string; readonly status?: TaskStatus; readonly workflowId?: string; readonly schedule?: string;
  readonly before?: string; readonly limit: number;
  /** Only runners matching one of these LIKE patterns (an API key's runners). */
  readonly runnerLike?: readonly string[];
  /** Of workflow steps, only those of runs of workflows matching these (an API key's workflows). */
  readonly workflowLike?: readonly string[];
}

/**
 * Newest first. Ids are UUIDv7, ordered by creation time, so `id < cursor` pages are stable under
 * concurrent inserts: new tasks sort before the first page and never shift later ones.
 */
const FILTERED = `from berth.tasks t
      where ($1::text is null or t.runner = $1) and ($2::text is null or t.status = $2)
        and ($3::uuid is null or t.id < $3) and ($5::uuid is null or t.workflow_id = $5) and ($6::text is null or t.schedule = $6)
        and ($7::text[] is null or t.runner like any($7))
        and ($8::text[] is null or t.workflow_id is null
             or exists (select 1 from berth.workflow_runs r where r.id = t.workflow_id and r.workflow like any($8)))
      order by t.id desc limit $4`;

function filterParams(filter: TaskFilter): unknown[] {
  return [filter.runner ?? null, filter.status ?? null, filter.before ?? null, filter.limit, filter.workflowId ?? null, filter.schedule ?? null, filter.runnerLike ?? null,
    filter.workflowLike ?? null];
}

/** A page of tasks without their input, output and histories: what a listing needs, bounded in size. */
export async function listTaskSummaries(db: Queryable, filter: TaskFilter): Promise<TaskSummary[]> {
  const { rows } = await db.query<TaskRow>(`select ${TASK_SUMMARY_SELECT} ${FILTERED}`, filterParams(filter));
  return rows.map(toTaskSummary);
}

/**
 * The same page's ids with the bytes of each task's input and output, as written with them
 * (input_bytes, output_bytes; before migration 0010, their stored size), so a full page can be cut
 * by size before any output is loaded.
 */
export async function listTaskSizes(db: Queryable, filter: TaskFilter): Promise<{ id: string; bytes: number }[]> {
  const { rows } = await db.query<{ id: string; bytes: number }>(
    `select t.id, (coalesce(t.input_bytes, pg_column_size(t.input)) + coalesce(t.output_bytes, pg_column_size(t.output), 0))::float8 as bytes
     ${FILTERED}`,
    filterParams(filter),
  );
  return rows;
}

/**
 * queued|running → cancelled. Returns the status and attempt it had, read under the row lock (a
 * worker may have claimed it a moment ago); null when the task is already final (or missing).
 */
export async function cancelTask(
  db: Queryable, id: string,
): Promise<{ previous: TaskStatus; attempt: number; runner: string; finished: FinishedTask } | null> {
  const { rows } = await db.query<{ previous: TaskStatus; attempt: number; runner: string } & FinishedRow>(
    `update berth.tasks t set status = 'cancelled', finished_at = now(), next_attempt_at = null, heartbeat_at = null, parked_at = null
       from (select id, status, attempts from berth.tasks where id = $1 for update) old
      where t.id = old.id and old.status = any($2::text[])
      returning old.status as previous, old.attempts as attempt, t.runner, t.callback_url, t.workflow_id, t.step_id, t.step_generation,
                case when old.status = 'running' then ${RUN_MS} end as duration_ms`,
    [id, TRANSITIONS.cancel.from],
  );
  const row = rows[0];
  return row === undefined ? null : { previous: row.previous, attempt: row.attempt, runner: row.runner, finished: toFinished(row) };
}

export interface ClaimedTask {
  readonly id: string;
  readonly runner: string;
  readonly inputJson: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  /** Whether the task has a callback to queue when it ends. */
  readonly hasCallback: boolean;
  /** The workflow run it is a step of, or null. */
  readonly workflowId: string | null;
  /** W3C traceparent it was submitted with, or null. */
  readonly traceparent: string | null;
  /** For its first attempt: from its submission (or start time, if later) to this claim; null for a later attempt. */
  readonly queuedMs: number | null;
}

export interface ClaimRow {
  id: string;
  runner: string;
  input_json: string;
  attempts: number;
  max_attempts: number;
  priority: number;
  has_callback: boolean;
  workflow_id: string | null;
  traceparent: string | null;
  queued_ms: number | null;
}

export function toClaimed(row: ClaimRow | undefined): ClaimedTask | null {
  return row === undefined ? null : {
    id: row.id, runner: row.runner, inputJson: row.input_json, attempt: row.attempts, maxAttempts: row.max_attempts, priority: row.priority,
    hasCallback: row.has_callback, workflowId: row.workflow_id, traceparent: row.traceparent, queuedMs: row.queued_ms,
  };
}

/**
 * Which queued tasks a job may claim: not one waiting for its start time or its retry's backoff (a
 * job left over from a lost worker must not run it early), nor one parked for a slot of its runner.
 * Both times were written by the database's clock, as was the job's startAfter, so they agree.
 */
export const CLAIMABLE = `status = 'queued' and parked_at is null
  and (run_after is null or run_after <= now()) and (next_attempt_at is null or next_attempt_at <= now())`;

/** What a claim returns: the columns of ClaimRow, from a task row just claimed. */
export const CLAIMED_COLUMNS = `id, runner, input::text as input_json, attempts, max_attempts, priority, callback_url is not null as has_callback, workflow_id,
  traceparent, case when attempts = 1 then (extract(epoch from now() - greatest(created_at, run_after)) * 1000)::float8 end as queued_ms`;

/** What every claim sets (its statement's $2 is the job): queued → running, with a new attempt. */
export const CLAIM_SET = `status = 'running', attempts = attempts + 1, started_at = now(), heartbeat_at = now(),
           next_attempt_at = null, job_id = $2`;

/** How every claim statement ends, after its update named `claimed`: the new attempt's record, and the claim. */
export const RECORD_CLAIM = `recorded as (
       insert into berth.task_attempts (task_id, attempt) select id, attempts from claimed on conflict do nothing)
     select * from claimed`;

/**
 * queued → running, starting a new attempt and recording it, in one statement. null when the task
 * is not claimable (cancelled, claimed, not yet due). A limited runner's claim runs it after the
 * runner's lock (runner-slot-store.ts).
 */
export async function claimTask(db: Queryable, id: string, jobId: string): Promise<ClaimedTask | null> {
  const { rows } = await db.query<ClaimRow>(prepared(
    `with claimed as (
       update berth.tasks set ${CLAIM_SET}
        where id = $1 and ${CLAIMABLE}
        returning ${CLAIMED_COLUMNS}),
     ${RECORD_CLAIM}`,
    [id, jobId],
  ));
  return toClaimed(rows[0]);
}

/**
 * queued → running, and the new attempt's record, in one statement: the claim of a task whose runner
 * has no concurrency limit (`limitedRunners` names those with one: their claims go through
 * lockRunner and claimTask in a transaction). null when the task is not queued or its runner is limited.
 */
export async function claimUnlimitedTask(db: Queryable, id: string, jobId: string, limitedRunners: readonly string[]): Promise<ClaimedTask | null> {
  const { rows } = await db.query<ClaimRow>(prepared(
    `with claimed as (
       update berth.tasks set ${CLAIM_SET}
        where id = $1 and ${CLAIMABLE} and runner <> all($3::text[])
        returning ${CLAIMED_COLUMNS}),
     ${RECORD_CLAIM}`,
    [id, jobId, limitedRunners],
  ));
  return toClaimed(rows[0]);
}

export interface AttemptResult {
  readonly status: 'succeeded' | 'failed';
  /** JSON text of the output (json column), or null. */
  readonly outputJson: string | null;
  readonly errorCode: TaskErrorCode | null;
  readonly errorMessage: string | null;
  readonly exitCode: number | null;
}

/**
 * running → succeeded | failed, for this attempt only, and the attempt's record closed, in one
 * statement. null when the attempt no longer holds the task (its record is closed all the same,
 * unless a sweeper or a cancel closed it first); else where its end is to be reported.
 */
export async function finishTask(db: Queryable, id: string, attempt: number, result: AttemptResult): Promise<FinishedTask | null> {
  const { rows } = await db.query<FinishedRow>(prepared(
    `with finished as (
       update berth.tasks set status = $3, output = $4::text::json, output_bytes = octet_length($4::text), error_code = $5, error_message = $6, exit_code = $7,
           finished_at = now(), heartbeat_at = null
        where id = $1 and attempts = $2 and status = 'running'
        returning callback_url, workflow_id, step_id, step_generation, ${RUN_MS} as duration_ms),
     ended as (
       update berth.task_attempts set finished_at = now(), exit_code = $7, error_code = $5, error_message = $6
        where task_id = $1 and attempt = $2 and finished_at is null)
     select callback_url, workflow_id, step_id, step_generation, duration_ms from finished`,
    [id, attempt, result.status, result.outputJson, result.errorCode, result.errorMessage, result.exitCode],
  ));
  return rows[0] === undefined ? null : toFinished(rows[0]);
}

/** Where a task's end is to be reported: its callback, and the step of a workflow run it is. */
export interface FinishedTask {
  /** The ending attempt's run time; null for a task cancelled before it ran. */
  readonly durationMs: number | null;
  readonly callbackUrl: string | null;
  readonly step: { readonly workflowId: string; readonly stepId: string; readonly generation: number } | null;
}

interface FinishedRow {
  duration_ms: number | null;
  callback_url: string | null;
  workflow_id: string | null;
  step_id: string | null;
  step_generation: number | null;
}

function toFinished(row: FinishedRow): FinishedTask {
  return {
    durationMs: row.duration_ms,
    callbackUrl: row.callback_url,
    step: row.workflow_id === null ? null : { workflowId: row.workflow_id, stepId: row.step_id!, generation: row.step_generation! },
  };
}

/**
 * Takes the task's row lock before its attempt's row is written: a cancel locks the task, then the
 * attempt, and every transaction that touches both must take them in that order.
 */
export async function lockTask(db: Queryable, id: string): Promise<void> {
  await db.query(prepared('select 1 from berth.tasks where id = $1 for update', [id]));
}

/** The run a task is a step of (fixed for the task's life), or null. */
export async function workflowOf(db: Queryable, id: string): Promise<string | null> {
  const { rows } = await db.query<{ workflow_id: string | null }>(prepared('select workflow_id from berth.tasks where id = $1', [id]));
  return rows[0]?.workflow_id ?? null;
}

/**
 * running → queued, for this attempt only: a retry after `delayMs`, or (0) a re-run after an
 * interruption. null when the attempt no longer holds the task; else when the next attempt may
 * start, by the database's clock, rounded up to the millisecond a Date can carry: the job's
 * startAfter must not come before the claim's guard lets the task go.
 */
/**
 * The whole of a finish, for a task with no callback whose runner has no concurrency limit: the
 * task, its attempt, and the 'final' event (`notice`, sent at commit) in one statement, with no
 * transaction around it. false when nothing changed: the attempt no longer holds the task, or the
 * task has a callback or a workflow after all (the caller then takes the full path); else the attempt's run time in ms.
 */
export async function finishTaskAlone(
  db: Queryable, id: string, attempt: number, result: AttemptResult, notice: { channel: string; payload: string },
): Promise<{ durationMs: number } | false> {
  const { rows } = await db.query<{ duration_ms: number }>(prepared(
    `with finished as (
       update berth.tasks set status = $3, output = $4::text::json, output_bytes = octet_length($4::text), error_code = $5, error_message = $6, exit_code = $7,
           finished_at = now(), heartbeat_at = null
        where id = $1 and attempts = $2 and status = 'running' and callback_url is null and workflow_id is null
        returning id, ${RUN_MS} as duration_ms),
     ended as (
       update berth.task_attempts set finished_at = now(), exit_code = $7, error_code = $5, error_message = $6
        where task_id = $1 and attempt = $2 and finished_at is null and exists (select 1 from finished))
     select pg_notify($8, $9), duration_ms from finished`,
    [id, attempt, result.status, result.outputJson, result.errorCode, result.errorMessage, result.exitCode, notice.channel, notice.payload],
  ));
  return rows[0] === undefined ? false : { durationMs: rows[0].duration_ms };
}

export async function requeueTask(db: Queryable, id: string, attempt: number, delayMs: number): Promise<{ startAfter: Date | null } | null> {
  const { rows } = await db.query<{ next_attempt_ms: string | null }>(prepared(
    `update berth.tasks set status = 'queued', heartbeat_at = null,
        next_attempt_at = case when $3::int > 0 then now() + make_interval(secs => $3::int / 1000.0) end
      where id = $1 and attempts = $2 and status = 'running'
      returning (extract(epoch from next_attempt_at) * 1000)::text as next_attempt_ms`,
    [id, attempt, delayMs],
  ));
  if (rows[0] === undefined) return null;
  const ms = rows[0].next_attempt_ms;
  return { startAfter: ms === null ? null : new Date(Math.ceil(Number(ms))) };
}

/** Which of these attempts still hold their task; refreshes their heartbeat. */
export async function heartbeat(db: Queryable, attempts: readonly { id: string; attempt: number }[]): Promise<Set<string>> {
  const { rows } = await db.query<{ id: string }>(prepared(
    `update berth.tasks t set heartbeat_at = now()
       from unnest($1::uuid[], $2::int[]) as held(id, attempt)
      where t.id = held.id and t.attempts = held.attempt and t.status = 'running'
      returning t.id`,
    [attempts.map((a) => a.id), attempts.map((a) => a.attempt)],
  ));
  return new Set(rows.map((r) => r.id));
}

export interface LostAttempt {
  readonly id: string;
  readonly runner: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
  readonly jobId: string | null;
}

/** Running attempts whose worker has not heartbeaten for `leaseMs`: their worker is gone. */
export async function findLostAttempts(db: Queryable, leaseMs: number, limit: number): Promise<LostAttempt[]> {
  const { rows } = await db.query<{ id: string; runner: string; attempts: number; max_attempts: number; priority: number; job_id: string | null }>(
    `select id, runner, attempts, max_attempts, priority, job_id from berth.tasks
      where status = 'running' and heartbeat_at < now() - make_interval(secs => $1::int / 1000.0)
      order by heartbeat_at limit $2`,
    [leaseMs, limit],
  );
  return rows.map((r) => ({
    id: r.id, runner: r.runner, attempt: r.attempts, maxAttempts: r.max_attempts, priority: r.priority, jobId: r.job_id,
  }));
}

/** Whether a container of (task, attempt) may still be doing live work: its attempt holds the task, recently heartbeaten. */
export async function liveAttempts(db: Queryable, attempts: readonly { id: string; attempt: number }[], leaseMs: number): Promise<Set<string>> {
  const { rows } = await db.query<{ key: string }>(
    `select t.id || ':' || t.attempts as key from berth.tasks t
       join unnest($1::uuid[], $2::int[]) as c(id, attempt) on t.id = c.id and t.attempts = c.attempt
      where t.status = 'running' and t.heartbeat_at >= now() - make_interval(secs => $3::int / 1000.0)`,
    [attempts.map((a) => a.id), attempts.map((a) => a.attempt), leaseMs],
  );
  return new Set(rows.map((r) => r.key));
}

/**
 * Deletes up to `limit` tasks that finished before the retention period; their attempts, logs and
 * keys go with them. A workflow step's task goes with its run instead (deleteExpiredRuns).
 */
export async function deleteExpiredTasks(db: Queryable, retentionMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from berth.tasks where id in (
       select id from berth.tasks where finished_at < now() - make_interval(secs => $1::bigint / 1000.0) and workflow_id is null limit $2)`,
    [retentionMs, limit],
  );
  return rowCount ?? 0;
}

/** When a queued task that is not parked may start, if that is still ahead; null otherwise (due, parked, or not queued). */
export async function dueLater(db: Queryable, id: string): Promise<Date | null> {
  const { rows } = await db.query<{ due: Date }>(prepared(
    `select greatest(run_after, next_attempt_at) as due from berth.tasks
      where id = $1 and status = 'queued' and parked_at is null and greatest(run_after, next_attempt_at) > now()`,
    [id],
  ));
  return rows[0]?.due ?? null;
}

