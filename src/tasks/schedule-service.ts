/**
 * Schedules: the runners file's schedules synced into the database, their ticks taken exactly once
 * across every process, and what clients can see and do with them.
 *
 * A tick is taken in a transaction that holds its schedule's row (lockDueSchedule: another process
 * skips it), and what it starts goes through the task or workflow service with the tick as its key
 * (recorded in the same transaction as the task or run). A tick taken twice, by a process that died
 * between starting the run and moving the schedule on, finds its record and starts nothing more.
 */
import { isDatabaseUnavailable, isForeignKeyViolation, withTransaction, type Pool, type PoolClient } from '../db.ts';
import { AppError } from '../errors.ts';
import { CronError, localTime, parseCron, type CronClock } from '../cron.ts';
import type { Logger } from '../logger.ts';
import { FULL_ACCESS, mayUseRunner, mayUseWorkflow, type Access } from '../runners/access.ts';
import type { RunnersConfig, Schedule as ConfiguredSchedule } from '../runners/runner.ts';
import type { Schedule, ScheduleDetail, ScheduleTick, ScheduleTriggered } from './schedule-schemas.ts';
import {
  advanceSchedule, databaseNow, deleteSchedulesExcept, dueScheduleNames, findScheduleRow, hasUnfinishedRun, insertSchedule, lastTicks,
  listScheduleRows, lockDueSchedule, lockScheduleRow, lockSchedules, recentTicks, recordIdleTick, setPaused, tickRecorded, updateSchedule,
  type NewTick, type ScheduleRow, type StoredDefinition, type TickRecord,
} from './schedule-store.ts';
import { LATE_AFTER_MS, planTicks } from './schedule-ticks.ts';
import { canonicalJson } from './request-hash.ts';
import type { TaskService } from './task-service.ts';
import type { WorkflowService } from './workflow-service.ts';

export interface ScheduleService {
  /** Makes the database's schedules the file's: new ones start ticking, changed ones take effect, removed ones go. */
  sync(): Promise<void>;
  /** Takes every tick that is due; returns how many it took. */
  tickDue(): Promise<number>;
  /** A schedule whose runner or workflow is outside `access` is left out, and reads as missing below. */
  list(access?: Access): Promise<Schedule[]>;
  get(name: string, access?: Access): Promise<ScheduleDetail>;
  pause(name: string, access?: Access): Promise<ScheduleDetail>;
  resume(name: string, access?: Access): Promise<ScheduleDetail>;
  /** One run now, outside the clock: neither paused nor overlap holds it back. */
  trigger(name: string, access?: Access): Promise<ScheduleTriggered>;
}

/** Refusals that trying again cannot change: the target or its input, as this process's file has them. */
const REFUSALS = new Set(['UNKNOWN_RUNNER', 'UNKNOWN_WORKFLOW', 'INPUT_INVALID']);
/** A tick whose start failed otherwise (a callback host not resolving, say) is tried on each pass until this old. */
const RETRY_FOR_MS = LATE_AFTER_MS - 5_000;

const RECENT_TICKS = 10;
const NEXT_TICKS = 5;
/** Due schedules taken per pass; the rest wait a second for the next. */
const DUE_PER_PASS = 100;

export function createScheduleService(deps: {
  pool: Pool; runners: RunnersConfig; tasks: TaskService; workflows: WorkflowService; logger: Logger; cronSeconds: boolean;
}): ScheduleService {
  const { pool, logger } = deps;
  const configured = deps.runners.schedules ?? new Map<string, ConfiguredSchedule>();
  const clocks = new Map<string, CronClock>();

  /** A stored definition's clock: ticks follow what the database holds, which may be another process's file. */
  function clockOf(definition: StoredDefinition): CronClock {
    const key = `${definition.timezone} ${definition.cron}`;
    let clock = clocks.get(key);
    if (clock === undefined) {
      clock = parseCron(definition.cron, definition.timezone, { seconds: deps.cronSeconds });
      clocks.set(key, clock);
    }
    return clock;
  }

  /**
   * For views: null for a stored expression this process cannot read (a seconds field another
   * process's BERTH_TEST_CRON_SECONDS allowed), so one such schedule does not fail every read.
   */
  function readableClock(definition: StoredDefinition): CronClock | null {
    try {
      return clockOf(definition);
    } catch (error) {
      if (error instanceof CronError) return null;
      throw error;
    }
  }

  /** Starts what the tick starts, in its own transaction, keyed by the tick. */
  async function start(definition: StoredDefinition, tick: NewTick): Promise<Pick<ScheduleTriggered, 'taskId' | 'workflowId'>> {
    const { kind, name } = definition.target;
    if (kind === 'workflow') {
      const { run } = await deps.workflows.submit({ workflow: name, input: definition.input }, { tick });
      return { taskId: null, workflowId: run.id };
    }
    const { task } = await deps.tasks.submitTask({ runner: name, input: definition.input }, { tick });
    return { taskId: task.id, workflowId: null };
  }

  /**
   * One clock tick, under its schedule's lock. A refusal is recorded at once; another failure is
   * thrown (the whole pass is tried again a second later) until the tick is too old to start on
   * time, and then recorded too; an outage is always thrown, and the tick waits for the database.
   */
  async function takeTick(client: PoolClient, row: ScheduleRow, tick: NewTick): Promise<void> {
    if (await tickRecorded(client, row.name, tick.source, tick.scheduledFor)) return;
    if (row.definition.overlap === 'skip' && await hasUnfinishedRun(client, row.name)) {
      await recordIdleTick(client, tick, 'skipped', 'the last run is not final yet (overlap: skip)');
      logger.info({ schedule: row.name, scheduledFor: tick.scheduledFor }, 'tick skipped: the last run is not final yet');
      return;
    }
    try {
      await start(row.definition, tick);
    } catch (error) {
      const refused = error instanceof AppError && REFUSALS.has(error.code);
      const late = row.now.getTime() - tick.scheduledFor.getTime() >= RETRY_FOR_MS;
      if (isDatabaseUnavailable(error) || (!refused && !late)) throw error;
      await recordIdleTick(client, tick, 'failed', error instanceof Error ? error.message : String(error));
      logger.error({ schedule: row.name, scheduledFor: tick.scheduledFor, err: error }, 'tick could not start its run; recorded as failed');
    }
  }

  async function takeDue(name: string): Promise<number> {
    return withTransaction(pool, async (client) => {
      const row = await lockDueSchedule(client, name);
      if (row === null) return 0;
      const plan = planTicks(clockOf(row.definition), row.nextTickAt, row.now, row.definition.missed);
      if (plan.passedOver > 0) logger.warn({ schedule: name, passedOver: plan.passedOver }, 'ticks missed while no process ran were passed over (missed: skip)');
      for (const { at, missed } of plan.take) await takeTick(client, row, { schedule: name, source: 'clock', scheduledFor: at, missed });
      await advanceSchedule(client, name, plan.next);
      return plan.take.length;
    });
  }

  async function detail(row: ScheduleRow): Promise<ScheduleDetail> {
    const ticks = await recentTicks(pool, row.name, RECENT_TICKS);
    return { ...view(row, ticks[0] ?? null), recentTicks: ticks.map(tickView) };
  }

  function view(row: ScheduleRow, last: TickRecord | null): Schedule {
    const { definition } = row;
    const clock = readableClock(definition);
    return {
      name: row.name,
      cron: definition.cron,
      timezone: definition.timezone,
      runner: definition.target.kind === 'runner' ? definition.target.name : null,
      workflow: definition.target.kind === 'workflow' ? definition.target.name : null,
      input: definition.input,
      overlap: definition.overlap,
      missed: definition.missed,
      paused: row.paused,
      nextTicks: clock === null ? [] : clock.upcoming(row.now, NEXT_TICKS).map((at) => ({ utc: at.toISOString(), local: localTime(at, definition.timezone) })),
      lastTick: last === null ? null : tickView(last),
    };
  }

  async function load(name: string, access: Access = FULL_ACCESS): Promise<ScheduleRow> {
    const row = await findScheduleRow(pool, name);
    if (row === null || !reaches(access, row.definition)) throw notFound(name);
    return row;
  }

  async function changePaused(name: string, paused: boolean, access: Access): Promise<ScheduleDetail> {
    await load(name, access);
    await withTransaction(pool, async (client) => {
      const row = await lockScheduleRow(client, name);
      if (row === null) throw notFound(name);
      if (row.paused === paused) return;
      // A resume starts from now: the ticks of the pause were not missed, they were not wanted.
      await setPaused(client, name, paused, paused ? null : clockOf(row.definition).next(row.now));
    });
    return detail(await load(name));
  }

  return {
    sync: () => withTransaction(pool, async (client) => {
      const stored = new Map((await lockSchedules(client)).map((row) => [row.name, row]));
      // Read after the locks: a sync that waited for another's must not start a clock in the past.
      const now = await databaseNow(client);
      for (const schedule of configured.values()) {
        const definition = storedDefinitionOf(schedule);
        const row = stored.get(schedule.name);
        if (row === undefined) {
          await insertSchedule(client, schedule.name, definition, schedule.clock.next(now));
          logger.info({ schedule: schedule.name }, 'schedule added');
        } else if (row.definition.cron !== definition.cron || row.definition.timezone !== definition.timezone) {
          // A new clock starts after now: no tick the old one took comes round again.
          await updateSchedule(client, schedule.name, definition, schedule.clock.next(now));
          logger.info({ schedule: schedule.name }, 'schedule changed: its clock starts anew');
        } else if (canonicalJson(row.definition) !== canonicalJson(definition)) {
          await updateSchedule(client, schedule.name, definition, null);
          logger.info({ schedule: schedule.name }, 'schedule changed');
        }
      }
      const removed = await deleteSchedulesExcept(client, [...configured.keys()]);
      if (removed.length > 0) logger.info({ schedules: removed }, 'schedules removed from the runners file were deleted');
    }),

    async tickDue() {
      let taken = 0;
      for (const name of await dueScheduleNames(pool, DUE_PER_PASS)) {
        try {
          taken += await takeDue(name);
        } catch (error) {
          // One schedule's trouble must not hold back the others; its tick stays due for the next pass.
          if (isDatabaseUnavailable(error)) throw error;
          logger.warn({ schedule: name, err: error }, 'taking the schedule\'s tick failed; trying again in a second');
        }
      }
      return taken;
    },

    async list(access = FULL_ACCESS) {
      const [rows, last] = await Promise.all([listScheduleRows(pool), lastTicks(pool)]);
      return rows.filter((row) => reaches(access, row.definition)).map((row) => view(row, last.get(row.name) ?? null));
    },

    get: async (name, access = FULL_ACCESS) => detail(await load(name, access)),
    pause: (name, access = FULL_ACCESS) => changePaused(name, true, access),
    resume: (name, access = FULL_ACCESS) => changePaused(name, false, access),

    async trigger(name, access = FULL_ACCESS) {
      // No lock held across the start (it takes a connection of its own): a schedule removed
      // meanwhile fails the tick's foreign key, and nothing is queued.
      const row = await load(name, access);
      const tick: NewTick = { schedule: name, source: 'manual', scheduledFor: row.now, missed: 0 };
      try {
        return { schedule: name, scheduledFor: row.now.toISOString(), ...await start(row.definition, tick) };
      } catch (error) {
        if (isForeignKeyViolation(error, 'schedule_ticks_schedule_fkey')) throw notFound(name);
        // The client sent nothing to correct: the stored definition does not suit this process's file.
        if (error instanceof AppError && REFUSALS.has(error.code)) throw new AppError('SCHEDULE_REFUSED', `schedule '${name}' cannot start: ${error.message}`);
        throw error;
      }
    },
  };
}

function reaches(access: Access, definition: StoredDefinition): boolean {
  const { kind, name } = definition.target;
  return kind === 'runner' ? mayUseRunner(access, name) : mayUseWorkflow(access, name);
}

const notFound = (name: string): AppError => new AppError('SCHEDULE_NOT_FOUND', `no schedule named '${name}'`);

/** What the database keeps of a configured schedule (its clock is rebuilt from cron and timezone). */
function storedDefinitionOf(schedule: ConfiguredSchedule): StoredDefinition {
  return {
    cron: schedule.cron, timezone: schedule.timezone, target: schedule.target, input: schedule.input,
    overlap: schedule.overlap, missed: schedule.missed,
  };
}

function tickView(tick: TickRecord): ScheduleTick {
  return {
    source: tick.source, scheduledFor: tick.scheduledFor.toISOString(), outcome: tick.outcome, message: tick.message, missed: tick.missed,
    taskId: tick.taskId, workflowId: tick.workflowId, status: tick.status, recordedAt: tick.recordedAt.toISOString(),
  };
}
