/**
 * SQL for berth.schedules and berth.schedule_ticks. A tick is taken under its schedule row's lock
 * (lockDueSchedule), and a tick that started something is recorded in the transaction that
 * queued it (recordStartedTick, like an idempotency key), so no tick starts twice.
 */
import type { Queryable } from '../db.ts';
import { createdColumns, createdFrom, type Created } from './idempotency-store.ts';

/** A schedule as the file declared it at the last sync; ticks are taken from this, not from any one process's file. */
export interface StoredDefinition {
  readonly cron: string;
  readonly timezone: string;
  readonly target: { readonly kind: 'runner' | 'workflow'; readonly name: string };
  readonly input: unknown;
  readonly overlap: 'skip' | 'allow';
  readonly missed: 'skip' | 'once';
}

export interface ScheduleRow {
  readonly name: string;
  readonly definition: StoredDefinition;
  readonly nextTickAt: Date;
  readonly paused: boolean;
  /** The database's clock when the row was read: ticks are judged by one clock, whichever process takes them. */
  readonly now: Date;
}

interface Row {
  name: string;
  definition: StoredDefinition;
  next_tick_at: Date;
  paused: boolean;
  now: Date;
}

/** A ScheduleRow's columns, with the database's clock beside them. */
const SCHEDULE_SELECT = `select name, definition, next_tick_at, paused, now() as now from berth.schedules`;

const toRow = (r: Row): ScheduleRow => ({ name: r.name, definition: r.definition, nextTickAt: r.next_tick_at, paused: r.paused, now: r.now });

export type TickSource = 'clock' | 'manual';
export type TickOutcome = 'started' | 'skipped' | 'failed';

/** A tick as GET /schedules/{name} shows it, with what it started and that task's or run's status. */
export interface TickRecord {
  readonly source: TickSource;
  readonly scheduledFor: Date;
  readonly outcome: TickOutcome;
  readonly message: string | null;
  readonly missed: number;
  readonly taskId: string | null;
  readonly workflowId: string | null;
  /** Of the task or run it started; null when it started none (or retention deleted it). */
  readonly status: string | null;
  readonly recordedAt: Date;
}

/** Every schedule row, locked for a sync. */
export async function lockSchedules(db: Queryable): Promise<ScheduleRow[]> {
  const { rows } = await db.query<Row>(`${SCHEDULE_SELECT} order by name for update`);
  return rows.map(toRow);
}

export async function listScheduleRows(db: Queryable): Promise<ScheduleRow[]> {
  const { rows } = await db.query<Row>(`${SCHEDULE_SELECT} order by name`);
  return rows.map(toRow);
}

export async function findScheduleRow(db: Queryable, name: string): Promise<ScheduleRow | null> {
  const { rows } = await db.query<Row>(`${SCHEDULE_SELECT} where name = $1`, [name]);
  return rows[0] === undefined ? null : toRow(rows[0]);
}

/** The schedule, locked (a manual trigger's, or a pause's, transaction); null when there is none. */
export async function lockScheduleRow(db: Queryable, name: string): Promise<ScheduleRow | null> {
  const { rows } = await db.query<Row>(
    `${SCHEDULE_SELECT} where name = $1 for no key update`,
    [name],
  );
  return rows[0] === undefined ? null : toRow(rows[0]);
}

/** The database's clock now (not the transaction's start, which may be long past after waiting for locks). */
export async function databaseNow(db: Queryable): Promise<Date> {
  const { rows } = await db.query<{ now: Date }>(`select clock_timestamp() as now`);
  return rows[0]!.now;
}

/** A new schedule; one another process's sync inserted meanwhile is left as it is (both read the same file). */
export async function insertSchedule(db: Queryable, name: string, definition: StoredDefinition, nextTickAt: Date): Promise<void> {
  await db.query(
    `insert into berth.schedules (name, definition, next_tick_at) values ($1, $2::jsonb, $3) on conflict (name) do nothing`,
    [name, JSON.stringify(definition), nextTickAt],
  );
}

/** A changed definition; `nextTickAt` null keeps the pending tick (the schedule's clock did not change). */
export async function updateSchedule(db: Queryable, name: string, definition: StoredDefinition, nextTickAt: Date | null): Promise<void> {
  await db.query(
    `update berth.schedules set definition = $2::jsonb, next_tick_at = coalesce($3, next_tick_at), updated_at = now() where name = $1`,
    [name, JSON.stringify(definition), nextTickAt],
  );
}

/** Schedules the file no longer declares go, with their ticks: none is left to fire. */
export async function deleteSchedulesExcept(db: Queryable, names: readonly string[]): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(`delete from berth.schedules where name <> all($1::text[]) returning name`, [names]);
  return rows.map((r) => r.name);
}

/** Names of schedules with a tick due, earliest first. */
export async function dueScheduleNames(db: Queryable, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select name from berth.schedules where not paused and next_tick_at <= now() order by next_tick_at limit $1`,
    [limit],
  );
  return rows.map((r) => r.name);
}

/**
 * The schedule, locked, if a tick of it is still due; null when another process has it (skip
 * locked) or took the tick first. `no key update`, so the tick's own record (a foreign key to this
 * row) can be written by the submission's transaction while this one holds the row.
 */
export async function lockDueSchedule(db: Queryable, name: string): Promise<ScheduleRow | null> {
  const { rows } = await db.query<Row>(
    `${SCHEDULE_SELECT}
      where name = $1 and not paused and next_tick_at <= now() for no key update skip locked`,
    [name],
  );
  return rows[0] === undefined ? null : toRow(rows[0]);
}

export async function advanceSchedule(db: Queryable, name: string, nextTickAt: Date): Promise<void> {
  await db.query(`update berth.schedules set next_tick_at = $2 where name = $1`, [name, nextTickAt]);
}

/** Pauses or resumes; a resume may move the pending tick past the ticks of the pause. False when there is no such schedule. */
export async function setPaused(db: Queryable, name: string, paused: boolean, nextTickAt: Date | null): Promise<boolean> {
  const { rowCount } = await db.query(
    `update berth.schedules set paused = $2, next_tick_at = coalesce($3, next_tick_at), updated_at = now() where name = $1`,
    [name, paused, nextTickAt],
  );
  return rowCount === 1;
}

export async function tickRecorded(db: Queryable, name: string, source: TickSource, scheduledFor: Date): Promise<boolean> {
  const { rowCount } = await db.query(
    `select 1 from berth.schedule_ticks where schedule = $1 and source = $2 and scheduled_for = $3`,
    [name, source, scheduledFor],
  );
  return rowCount === 1;
}

export interface NewTick {
  readonly schedule: string;
  readonly source: TickSource;
  readonly scheduledFor: Date;
  /** Earlier ticks missed during an outage that this one stands for. */
  readonly missed: number;
}

/**
 * Records the tick for what it started, in the transaction that queues it; when a clock tick is
 * recorded already, returns what it started then (a replay: nothing new is queued). A manual
 * trigger is never a replay.
 */
export async function recordStartedTick(db: Queryable, tick: NewTick, created: Created): Promise<Created | null> {
  const inserted = await db.query(
    `insert into berth.schedule_ticks (schedule, source, scheduled_for, outcome, missed, task_id, workflow_id)
     values ($1, $2, $3, 'started', $4, $5, $6) on conflict do nothing`,
    [tick.schedule, tick.source, tick.scheduledFor, tick.missed, ...createdColumns(created)],
  );
  if (inserted.rowCount === 1) return null;
  const { rows } = await db.query<{ task_id: string | null; workflow_id: string | null }>(
    `select task_id, workflow_id from berth.schedule_ticks where schedule = $1 and source = $2 and scheduled_for = $3`,
    [tick.schedule, tick.source, tick.scheduledFor],
  );
  if (rows[0] === undefined || (rows[0].task_id === null && rows[0].workflow_id === null)) {
    throw new Error(`tick ${tick.scheduledFor.toISOString()} of schedule '${tick.schedule}' was already recorded without a start`);
  }
  return createdFrom(rows[0]);
}

/** A tick that started nothing: skipped (overlap) or failed (what it would start was refused). */
export async function recordIdleTick(db: Queryable, tick: NewTick, outcome: 'skipped' | 'failed', message: string): Promise<void> {
  await db.query(
    `insert into berth.schedule_ticks (schedule, source, scheduled_for, outcome, message, missed) values ($1, $2, $3, $4, $5, $6)
     on conflict do nothing`,
    [tick.schedule, tick.source, tick.scheduledFor, outcome, message, tick.missed],
  );
}

/** Whether a task or run this schedule started is not final yet (overlap: skip). */
export async function hasUnfinishedRun(db: Queryable, name: string): Promise<boolean> {
  const { rows } = await db.query<{ busy: boolean }>(
    `select exists (select 1 from berth.tasks where schedule = $1 and status in ('queued', 'running'))
         or exists (select 1 from berth.workflow_runs where schedule = $1 and status = 'running') as busy`,
    [name],
  );
  return rows[0]!.busy;
}

interface TickRow {
  schedule: string;
  source: TickSource;
  scheduled_for: Date;
  outcome: TickOutcome;
  message: string | null;
  missed: number;
  task_id: string | null;
  workflow_id: string | null;
  status: string | null;
  recorded_at: Date;
}

const TICK_SELECT = `k.schedule, k.source, k.scheduled_for, k.outcome, k.message, k.missed, k.task_id, k.workflow_id, k.recorded_at,
  coalesce((select t.status from berth.tasks t where t.id = k.task_id), (select r.status from berth.workflow_runs r where r.id = k.workflow_id)) as status`;

const toTick = (r: TickRow): TickRecord => ({
  source: r.source, scheduledFor: r.scheduled_for, outcome: r.outcome, message: r.message, missed: r.missed,
  taskId: r.task_id, workflowId: r.workflow_id, status: r.status, recordedAt: r.recorded_at,
});

/** The schedule's latest ticks, newest first. */
export async function recentTicks(db: Queryable, name: string, limit: number): Promise<TickRecord[]> {
  const { rows } = await db.query<TickRow>(
    `select ${TICK_SELECT} from berth.schedule_ticks k where k.schedule = $1 order by k.recorded_at desc, k.scheduled_for desc limit $2`,
    [name, limit],
  );
  return rows.map(toTick);
}

/** Each schedule's latest tick, by name: one index probe per schedule (schedule_ticks_recent_idx). */
export async function lastTicks(db: Queryable): Promise<Map<string, TickRecord>> {
  const { rows } = await db.query<TickRow>(
    `select ${TICK_SELECT} from berth.schedules s
       cross join lateral (select * from berth.schedule_ticks t where t.schedule = s.name
                            order by t.recorded_at desc, t.scheduled_for desc limit 1) k`,
  );
  return new Map(rows.map((r) => [r.schedule, toTick(r)]));
}

/**
 * Forgets up to `limit` ticks recorded before the retention period, but never a schedule's latest
 * `keep`: a schedule that ticks once a year still shows its last tick.
 */
export async function deleteExpiredTicks(db: Queryable, retentionMs: number, keep: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `delete from berth.schedule_ticks k
      using (select id
               from (select id, recorded_at, row_number() over (partition by schedule order by recorded_at desc) as newest
                       from berth.schedule_ticks) ranked
              where newest > $2 and recorded_at < now() - make_interval(secs => $1::bigint / 1000.0)
              limit $3) old
      where k.id = old.id`,
    [retentionMs, keep, limit],
  );
  return rowCount ?? 0;
}
