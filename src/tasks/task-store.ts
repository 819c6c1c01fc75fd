/**
 * SQL for berth.tasks and berth.task_logs: one exported function per statement.
 * Invariant: every write made on behalf of an attempt names that attempt (`attempts = $n` and
 * status 'running'), so an attempt that lost its claim can never overwrite a newer one.
 */
import type { Queryable } from '../db.ts';
import type { Task, TaskErrorCode, TaskStatus } from './task-schemas.ts';

interface TaskRow {
  id: string;
  runner: string;
  status: TaskStatus;
  input: unknown;
  output: unknown;
  error_code: TaskErrorCode | null;
  error_message: string | null;
  exit_code: number | null;
  attempts: number;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const TASK_COLUMNS = `id, runner, status, input, output, error_code, error_message, exit_code, attempts,
  created_at, started_at, finished_at`;

function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    runner: row.runner,
    status: row.status,
    input: row.input,
    output: row.output ?? null,
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
    exitCode: row.exit_code,
    attempts: row.attempts,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
  };
}

/** `inputJson` is stored as text (json, not jsonb) so the worker sends exactly these bytes. */
export async function insertTask(db: Queryable, task: { id: string; runner: string; inputJson: string }): Promise<Task> {
  const { rows } = await db.query<TaskRow>(
    `insert into berth.tasks (id, runner, input) values ($1, $2, $3::json) returning ${TASK_COLUMNS}`,
    [task.id, task.runner, task.inputJson],
  );
  return toTask(rows[0]!);
}

export async function findTask(db: Queryable, id: string): Promise<Task | null> {
  const { rows } = await db.query<TaskRow>(`select ${TASK_COLUMNS} from berth.tasks where id = $1`, [id]);
  return rows[0] === undefined ? null : toTask(rows[0]);
}

/** null when the task does not exist; an empty buffer when it has no logs yet. */
export async function findTaskLogs(db: Queryable, id: string): Promise<Buffer | null> {
  const { rows } = await db.query<{ content: Buffer | null }>(
    `select l.content from berth.tasks t left join berth.task_logs l on l.task_id = t.id where t.id = $1`,
    [id],
  );
  if (rows[0] === undefined) return null;
  return rows[0].content ?? Buffer.alloc(0);
}

export interface ClaimedTask {
  readonly id: string;
  readonly runner: string;
  readonly inputJson: string;
  readonly attempt: number;
}

/** queued → running, starting a new attempt. null when the task is not queued (cancelled, or claimed). */
export async function claimTask(db: Queryable, id: string): Promise<ClaimedTask | null> {
  const { rows } = await db.query<{ id: string; runner: string; input_json: string; attempts: number }>(
    `update berth.tasks set status = 'running', attempts = attempts + 1, started_at = now()
      where id = $1 and status = 'queued'
      returning id, runner, input::text as input_json, attempts`,
    [id],
  );
  const row = rows[0];
  return row === undefined ? null : { id: row.id, runner: row.runner, inputJson: row.input_json, attempt: row.attempts };
}

export interface AttemptResult {
  readonly status: 'succeeded' | 'failed';
  /** JSON text of the output (json column), or null. */
  readonly outputJson: string | null;
  readonly errorCode: TaskErrorCode | null;
  readonly errorMessage: string | null;
  readonly exitCode: number | null;
}

/** running → succeeded | failed, for this attempt only. false when the attempt no longer holds the task. */
export async function finishAttempt(db: Queryable, id: string, attempt: number, result: AttemptResult): Promise<boolean> {
  const { rowCount } = await db.query(
    `update berth.tasks set status = $3, output = $4::json, error_code = $5, error_message = $6, exit_code = $7,
        finished_at = now()
      where id = $1 and attempts = $2 and status = 'running'`,
    [id, attempt, result.status, result.outputJson, result.errorCode, result.errorMessage, result.exitCode],
  );
  return rowCount === 1;
}

/** running → queued, for this attempt only: the attempt was interrupted (worker shutdown), not failed. */
export async function requeueAttempt(db: Queryable, id: string, attempt: number): Promise<boolean> {
  const { rowCount } = await db.query(
    `update berth.tasks set status = 'queued', started_at = null where id = $1 and attempts = $2 and status = 'running'`,
    [id, attempt],
  );
  return rowCount === 1;
}

export async function saveTaskLogs(db: Queryable, id: string, content: Buffer, truncated: boolean): Promise<void> {
  await db.query(
    `insert into berth.task_logs (task_id, content, truncated) values ($1, $2, $3)
      on conflict (task_id) do update set content = excluded.content, truncated = excluded.truncated`,
    [id, content, truncated],
  );
}
