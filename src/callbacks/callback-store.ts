/**
 * SQL for berth.callback_deliveries and workflow_callback_deliveries: every attempt to deliver a
 * task's (or a workflow run's) callback, in order.
 */
import type { Queryable } from '../db.ts';

export interface CallbackAttempt {
  readonly attempt: number;
  readonly statusCode: number | null;
  readonly error: string | null;
}

export async function recordCallbackAttempt(db: Queryable, taskId: string, outcome: Omit<CallbackAttempt, 'attempt'>): Promise<number> {
  const { rows } = await db.query<{ attempt: number }>(
    `insert into berth.callback_deliveries (task_id, attempt, status_code, error)
     select $1, coalesce(max(attempt), 0) + 1, $2, $3 from berth.callback_deliveries where task_id = $1
     returning attempt`,
    [taskId, outcome.statusCode, outcome.error],
  );
  return rows[0]!.attempt;
}

export async function recordRunCallbackAttempt(db: Queryable, runId: string, outcome: Omit<CallbackAttempt, 'attempt'>): Promise<number> {
  const { rows } = await db.query<{ attempt: number }>(
    `insert into berth.workflow_callback_deliveries (run_id, attempt, status_code, error)
     select $1, coalesce(max(attempt), 0) + 1, $2, $3 from berth.workflow_callback_deliveries where run_id = $1
     returning attempt`,
    [runId, outcome.statusCode, outcome.error],
  );
  return rows[0]!.attempt;
}
