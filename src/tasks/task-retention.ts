/**
 * How long finished tasks are kept: deleted in batches once their retention period has passed,
 * with their attempts, logs, deliveries and keys; idempotency keys are forgotten after a day.
 */
import type { Pool } from '../db.ts';
import { deleteExpiredIdempotencyKeys } from './idempotency-store.ts';
import { deleteExpiredTasks } from './task-store.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const BATCH = 500;

export async function applyRetention(pool: Pool, retentionMs: number): Promise<{ tasks: number; idempotencyKeys: number }> {
  let tasks = 0;
  for (let n = BATCH; n === BATCH; tasks += n) n = await deleteExpiredTasks(pool, retentionMs, BATCH);
  const idempotencyKeys = await deleteExpiredIdempotencyKeys(pool, DAY_MS);
  return { tasks, idempotencyKeys };
}
