-- Schedules: the runners file's schedules, shared by every process that ticks them. Each process
-- syncs the file into berth.schedules when it starts; a tick is taken under its schedule row's lock,
-- and berth.schedule_ticks records it under a key that makes a second start of one tick impossible.

create table berth.schedules (
  name text primary key,
  -- {cron, timezone, target: {kind, name}, input, overlap, missed}, as the file said at the last sync.
  definition jsonb not null,
  -- The earliest tick not yet taken. Left in the past while no process ticks (an outage): the tick
  -- that finds it there applies the schedule's missed policy.
  next_tick_at timestamptz not null,
  -- Set by POST /schedules/{name}/pause; kept by every sync.
  paused boolean not null default false,
  updated_at timestamptz not null default now()
);
create index schedules_due_idx on berth.schedules (next_tick_at) where not paused;

create table berth.schedule_ticks (
  id bigint generated always as identity primary key,
  schedule text not null references berth.schedules (name) on delete cascade,
  -- clock: a tick of the schedule's own; manual: POST /schedules/{name}/trigger.
  source text not null check (source in ('clock', 'manual')),
  scheduled_for timestamptz not null,
  -- started: it started a task or a run; skipped: overlap (the last run was not final);
  -- failed: what it would start was refused (the message says why); nothing was queued.
  outcome text not null check (outcome in ('started', 'skipped', 'failed')),
  message text,
  -- How many earlier ticks, missed while no process ticked, this one stands for (missed: once).
  missed integer not null default 0,
  task_id uuid references berth.tasks (id) on delete set null deferrable initially deferred,
  workflow_id uuid references berth.workflow_runs (id) on delete set null deferrable initially deferred,
  -- The clock's time, not the transaction's: ticks written in one pass keep their order.
  recorded_at timestamptz not null default clock_timestamp()
);
-- The key that makes a clock tick start once. Manual triggers have none: each is a run of its own.
create unique index schedule_ticks_clock_key on berth.schedule_ticks (schedule, scheduled_for) where source = 'clock';
create index schedule_ticks_recent_idx on berth.schedule_ticks (schedule, recorded_at desc);
-- For the set null when retention deletes a task or a run.
create index schedule_ticks_task_idx on berth.schedule_ticks (task_id) where task_id is not null;
create index schedule_ticks_workflow_idx on berth.schedule_ticks (workflow_id) where workflow_id is not null;

-- What a schedule started carries its name and tick; GET /tasks?schedule= and GET /workflows?schedule= list them.
alter table berth.tasks
  add column schedule text,
  add column scheduled_for timestamptz,
  add constraint tasks_scheduled check ((schedule is null) = (scheduled_for is null));
create index tasks_schedule_idx on berth.tasks (schedule, id desc) where schedule is not null;
-- Overlap: whether a schedule has a run that is not final.
create index tasks_schedule_unfinished_idx on berth.tasks (schedule) where schedule is not null and status in ('queued', 'running');

alter table berth.workflow_runs
  add column schedule text,
  add column scheduled_for timestamptz,
  add constraint workflow_runs_scheduled check ((schedule is null) = (scheduled_for is null));
create index workflow_runs_schedule_idx on berth.workflow_runs (schedule, id desc) where schedule is not null;
create index workflow_runs_schedule_running_idx on berth.workflow_runs (schedule) where schedule is not null and status = 'running';

-- A limited runner's slot handed to a parked task is found again by its job after a settle whose
-- answer was lost (runner-slot-store.ts, findHandedOff).
create index tasks_running_job_idx on berth.tasks (job_id) where status = 'running';
