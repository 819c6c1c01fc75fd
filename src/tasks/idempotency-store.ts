/**
 * SQL for berth.idempotency_keys. A key is recorded in the same transaction as its task; a second
 * transaction inserting the same key waits for the first to commit (unique index), then sees it.
 */
import type { Queryable } from '../db.ts';

/** Records the key for `taskId`; when it exists already, returns what it was recorded with. */
export async function recordIdempotencyKey(
  db: Queryable, key: string, requestHash: string, taskId: string,
): Promise<{ taskId: string; requestHash: string } | null> {
  const inserted = await db.query(
    `insert into berth.idempotency_keys (key, request_hash, task_id) values ($1, $2, $3) on conflict (key) do nothing`,
    [key, requestHash, taskId],
  );
  if (inserted.rowCount === 1) return null;
  const { rows } = await db.query<{ task_id: string; request_hash: string }>(
    `select task_id, request_hash from berth.idempotency_keys where key = $1`,
    [key],
  );
  // Deleted between the two statements (expired): the caller may simply try again.
  if (rows[0] === undefined) throw new Error(`idempotency key vanished while being read; retry the request`);
  return { taskId: rows[0].task_id, requestHash: rows[0].request_hash };
}

/** Forgets keys older than `maxAgeMs`. */
export async function deleteExpiredIdempotencyKeys(db: Queryable, maxAgeMs: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from berth.idempotency_keys where created_at < now() - make_interval(secs => $1::bigint / 1000.0)`,
    [maxAgeMs],
  );
  return rowCount ?? 0;
}
