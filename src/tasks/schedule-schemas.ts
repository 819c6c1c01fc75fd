/**
 * The shapes of /schedules: a schedule as the ticking processes hold it, its next ticks, and the
 * ticks it took. One TypeBox schema each, for validation, types and the OpenAPI document.
 */
import { Type, type Static } from 'typebox';

const Timestamp = Type.String({ format: 'date-time' });

export const ScheduleTick = Type.Object(
  {
    source: Type.Union([Type.Literal('clock'), Type.Literal('manual')], { description: 'clock: a tick of the schedule; manual: POST /schedules/{name}/trigger' }),
    scheduledFor: Timestamp,
    outcome: Type.Union([Type.Literal('started'), Type.Literal('skipped'), Type.Literal('failed')], {
      description: 'started a task or run; skipped (overlap: the last run was not final); failed (what it would start was refused: see message)',
    }),
    message: Type.Union([Type.String(), Type.Null()]),
    missed: Type.Integer({ minimum: 0, description: 'Ticks missed while no process ran that this one stands for (missed: once)' }),
    taskId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    workflowId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    status: Type.Union([Type.String(), Type.Null()], { description: 'Of the task or run it started, now' }),
    recordedAt: Timestamp,
  },
  { additionalProperties: false },
);
export type ScheduleTick = Static<typeof ScheduleTick>;

const NextTick = Type.Object(
  {
    utc: Timestamp,
    local: Type.String({ description: 'The same instant in the schedule\'s time zone, with its offset' }),
  },
  { additionalProperties: false },
);

const scheduleProperties = {
  name: Type.String(),
  cron: Type.String(),
  timezone: Type.String({ description: 'IANA time zone the cron expression is read in' }),
  runner: Type.Union([Type.String(), Type.Null()], { description: 'What each tick starts: a task of this runner…' }),
  workflow: Type.Union([Type.String(), Type.Null()], { description: '…or a run of this workflow' }),
  input: Type.Unknown(),
  overlap: Type.Union([Type.Literal('skip'), Type.Literal('allow')]),
  missed: Type.Union([Type.Literal('skip'), Type.Literal('once')]),
  paused: Type.Boolean(),
  nextTicks: Type.Array(NextTick, { description: 'The next five ticks (a paused schedule fires none of them until resumed)' }),
  lastTick: Type.Union([ScheduleTick, Type.Null()]),
};

export const Schedule = Type.Object(scheduleProperties, { additionalProperties: false });
export type Schedule = Static<typeof Schedule>;

export const ScheduleDetail = Type.Object(
  { ...scheduleProperties, recentTicks: Type.Array(ScheduleTick, { description: 'The latest ticks, newest first' }) },
  { additionalProperties: false },
);
export type ScheduleDetail = Static<typeof ScheduleDetail>;

export const ScheduleList = Type.Object({ items: Type.Array(Schedule) }, { additionalProperties: false });
export type ScheduleList = Static<typeof ScheduleList>;

export const ScheduleTriggered = Type.Object(
  {
    schedule: Type.String(),
    scheduledFor: Timestamp,
    taskId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    workflowId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ScheduleTriggered = Static<typeof ScheduleTriggered>;

export const ScheduleNameParams = Type.Object({ name: Type.String() }, { additionalProperties: false });
export type ScheduleNameParams = Static<typeof ScheduleNameParams>;
