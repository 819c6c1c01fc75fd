/**
 * How long finished tasks and workflow runs are kept: deleted in batches once their retention
 * period has passed, with their attempts, logs, deliveries and keys (a run with its steps' tasks);
 * idempotency keys are forgotten after a day; schedules' ticks after the retention period, but for
 * each schedule's latest few; rate-limit buckets once idle long enough to be full again.
 */
import type { Pool } from '../db.ts';
import { forgetIdleBuckets } from '../rate-limits.ts';
import { deleteExpiredIdempotencyKeys } from './idempotency-store.ts';
import { deleteExpiredTicks } from './schedule-store.ts';
import { deleteExpiredTasks } from './task-store.ts';
import { deleteExpiredRuns } from './workflow-store.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const BATCH = 500;
const RUN_BATCH = 20;
/** Ticks a schedule keeps whatever their age (GET /schedules/{name} shows ten). */
const TICKS_KEPT = 10;

export async function applyRetention(
  pool: Pool, retentionMs: number,
): Promise<{ tasks: number; workflowRuns: number; idempotencyKeys: number; scheduleTicks: number; rateBuckets: number }> {
  let tasks = 0;
  for (let n = BATCH; n === BATCH; tasks += n) n = await deleteExpiredTasks(pool, retentionMs, BATCH);
  let workflowRuns = 0;
  // A run's batch may hold many tasks (a for_each of a thousand): fewer runs at a time.
  for (let n = RUN_BATCH; n === RUN_BATCH; workflowRuns += n) n = await deleteExpiredRuns(pool, retentionMs, RUN_BATCH);
  const idempotencyKeys = await deleteExpiredIdempotencyKeys(pool, DAY_MS);
  let scheduleTicks = 0;
  for (let n = BATCH; n === BATCH; scheduleTicks += n) n = await deleteExpiredTicks(pool, retentionMs, TICKS_KEPT, BATCH);
  const rateBuckets = await forgetIdleBuckets(pool);
  return { tasks, workflowRuns, idempotencyKeys, scheduleTicks, rateBuckets };
}
