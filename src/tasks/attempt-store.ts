/**
 * SQL for berth.task_attempts: the history of a task's attempts, one row each, written by the
 * worker that ran it (or by the sweeper that found it lost). Counting failures here decides retries.
 */
import { prepared, type Queryable } from '../db.ts';
import type { AttemptErrorCode } from './task-schemas.ts';

export async function insertAttempt(db: Queryable, taskId: string, attempt: number): Promise<void> {
  await db.query(prepared(
    `insert into berth.task_attempts (task_id, attempt) values ($1, $2) on conflict do nothing`,
    [taskId, attempt],
  ));
}

export interface AttemptEnd {
  readonly exitCode: number | null;
  readonly errorCode: AttemptErrorCode | null;
  readonly errorMessage: string | null;
}

/** Closes the attempt's record; a record already closed (by a sweeper, or a cancel) is left alone. */
export async function endAttempt(db: Queryable, taskId: string, attempt: number, end: AttemptEnd): Promise<void> {
  await db.query(prepared(
    `update berth.task_attempts set finished_at = now(), exit_code = $3, error_code = $4, error_message = $5
      where task_id = $1 and attempt = $2 and finished_at is null`,
    [taskId, attempt, end.exitCode, end.errorCode, end.errorMessage],
  ));
}

/** Failed attempts so far; interruptions and cancellations are not the task's failures. */
export async function countFailedAttempts(db: Queryable, taskId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(prepared(
    `select count(*)::int as n from berth.task_attempts
      where task_id = $1 and error_code is not null and error_code not in ('interrupted', 'cancelled')`,
    [taskId],
  ));
  return rows[0]!.n;
}
