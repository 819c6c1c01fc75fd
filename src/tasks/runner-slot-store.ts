/**
 * SQL for the slots of runners with a concurrency limit: the runner's lock, and the car park where
 * a queued task waits, without a job, for a free slot. Every statement here runs after the
 * runner's lock (lockRunner) in the caller's transaction, so counts and slots agree across workers.
 */
import { prepared, type Queryable } from '../db.ts';
import { CLAIM_SET, CLAIMABLE, CLAIMED_COLUMNS, RECORD_CLAIM, toClaimed, type ClaimedTask, type ClaimRow } from './task-store.ts';

/** Serialises claims of one runner's tasks, so its concurrency limit holds across workers. */
export async function lockRunner(db: Queryable, runner: string): Promise<void> {
  await db.query(prepared(`select pg_advisory_xact_lock(hashtext('berth.runner'), hashtext($1))`, [runner]));
}

/** Locks a claimable task's row for the claim (or parking) that follows in the same transaction. */
export async function lockQueuedTask(db: Queryable, id: string): Promise<{ runner: string } | null> {
  const { rows } = await db.query<{ runner: string }>(prepared(
    `select runner from berth.tasks where id = $1 and ${CLAIMABLE} for update`,
    [id],
  ));
  return rows[0] ?? null;
}

/** Running tasks of a runner, counted for its concurrency limit. */
export async function countRunning(db: Queryable, runner: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(prepared(`select count(*)::int as n from berth.tasks where runner = $1 and status = 'running'`, [runner]));
  return rows[0]!.n;
}

/**
 * Parks the queued task when its runner already runs `limit` tasks: it waits without a job, and a
 * slot freed later goes to it (claimParkedTask or unparkTasks). True when parked. The count is read
 * after the runner's lock, taken by an earlier statement, so it sees every claim before this one.
 */
export async function parkIfFull(db: Queryable, id: string, runner: string, limit: number): Promise<boolean> {
  const { rowCount } = await db.query(prepared(
    `update berth.tasks set parked_at = now()
      where id = $1 and status = 'queued'
        and (select count(*) from berth.tasks where runner = $2 and status = 'running') >= $3`,
    [id, runner, limit],
  ));
  return rowCount === 1;
}

/**
 * Up to `limit` of the runner's parked tasks, best first, leave the car park; the caller queues a
 * job for each in the same transaction. Skips rows locked by a concurrent claim or cancel.
 */
export async function unparkTasks(db: Queryable, runner: string, limit: number): Promise<{ id: string; priority: number }[]> {
  const { rows } = await db.query<{ id: string; priority: number }>(prepared(
    `update berth.tasks t set parked_at = null
       from (select id from berth.tasks where runner = $1 and status = 'queued' and parked_at is not null
              order by priority desc, id limit $2 for update skip locked) next
      where t.id = next.id
      returning t.id, t.priority`,
    [runner, limit],
  ));
  return rows;
}

/**
 * The runner's best parked task, claimed for the worker slot whose job is `jobId` (a hand-off: no
 * new job, fetch or claim), with its attempt recorded; only while the runner runs fewer than
 * `limit` tasks. null when none is parked (or every parked one is locked by a cancel). A parked
 * task was due when it parked, so its start time is not checked again.
 */
export async function claimParkedTask(db: Queryable, runner: string, jobId: string, limit: number): Promise<ClaimedTask | null> {
  const { rows } = await db.query<ClaimRow>(prepared(
    `with next as (
       select id as next_id from berth.tasks
        where runner = $1 and status = 'queued' and parked_at is not null
          and (select count(*) from berth.tasks where runner = $1 and status = 'running') < $3
        order by priority desc, id limit 1 for update skip locked),
     claimed as (
       update berth.tasks t set ${CLAIM_SET}, parked_at = null
         from next where t.id = next.next_id
        returning ${CLAIMED_COLUMNS}),
     ${RECORD_CLAIM}`,
    [runner, jobId, limit],
  ));
  return toClaimed(rows[0]);
}

/**
 * The task a slot's job was handed by a settle that committed although the worker never heard so
 * (its acknowledgement was lost and the settle, tried again, found its task already ended): still
 * running, claimed with `jobId`, other than the task that was settled.
 */
export async function findHandedOff(db: Queryable, jobId: string, settledId: string): Promise<ClaimedTask | null> {
  const { rows } = await db.query<ClaimRow>(
    `select ${CLAIMED_COLUMNS} from berth.tasks where job_id = $1 and status = 'running' and id <> $2 limit 1`,
    [jobId, settledId],
  );
  return toClaimed(rows[0]);
}
