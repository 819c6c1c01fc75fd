/**
 * SQL for berth.idempotency_keys. A key is recorded in the same transaction as what it created (a
 * task, or a workflow run); a second transaction inserting the same key waits for the first to
 * commit (unique index), then sees it.
 */
import type { Queryable } from '../db.ts';

/** What a submission created: idempotency keys and webhook deliveries name it. */
export type Created = { readonly taskId: string } | { readonly workflowId: string };

export function createdColumns(created: Created): [string | null, string | null] {
  return 'taskId' in created ? [created.taskId, null] : [null, created.workflowId];
}

export function createdFrom(row: { task_id: string | null; workflow_id: string | null }): Created {
  return row.task_id !== null ? { taskId: row.task_id } : { workflowId: row.workflow_id! };
}

/** Records the key for what `created` names; when it exists already, returns what it was recorded with. */
export async function recordIdempotencyKey(
  db: Queryable, key: string, requestHash: string, created: Created,
): Promise<{ created: Created; requestHash: string } | null> {
  const inserted = await db.query(
    `insert into berth.idempotency_keys (key, request_hash, task_id, workflow_id) values ($1, $2, $3, $4) on conflict (key) do nothing`,
    [key, requestHash, ...createdColumns(created)],
  );
  if (inserted.rowCount === 1) return null;
  const { rows } = await db.query<{ task_id: string | null; workflow_id: string | null; request_hash: string }>(
    `select task_id, workflow_id, request_hash from berth.idempotency_keys where key = $1`,
    [key],
  );
  // Deleted between the two statements (expired): the caller may simply try again.
  if (rows[0] === undefined) throw new Error(`idempotency key vanished while being read; retry the request`);
  return { created: createdFrom(rows[0]), requestHash: rows[0].request_hash };
}

/** Forgets keys older than `maxAgeMs`. */
export async function deleteExpiredIdempotencyKeys(db: Queryable, maxAgeMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from berth.idempotency_keys where created_at < now() - make_interval(secs => $1::bigint / 1000.0)`,
    [maxAgeMs],
  );
  return rowCount ?? 0;
}
