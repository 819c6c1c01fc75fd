-- Workflows: runs of steps declared in the runners file; each step is one task (or one per element
-- of a for_each array). src/tasks/workflow-progress.ts moves a run on, inside the transactions of
-- the task lifecycle that make its tasks final.

create table berth.workflow_runs (
  id uuid primary key,
  workflow text not null,
  status text not null default 'running'
    check (status in ('running', 'succeeded', 'failed', 'cancelled')),
  input json not null,
  -- The workflow's steps as they were declared when the run was submitted: a run goes on the way it
  -- started, whatever the runners file says meanwhile.
  definition jsonb not null,
  output json,
  -- {"step", "code", "message"}: the first step that failed.
  error jsonb,
  callback_url text,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  constraint workflow_runs_finished_when_final check ((status <> 'running') = (finished_at is not null))
);
create index workflow_runs_workflow_idx on berth.workflow_runs (workflow, id desc);
create index workflow_runs_finished_idx on berth.workflow_runs (finished_at) where finished_at is not null;

create table berth.workflow_steps (
  run_id uuid not null references berth.workflow_runs (id) on delete cascade,
  step_id text not null,
  -- pending: waiting for its parents; active: its tasks exist and are not all final.
  status text not null default 'pending'
    check (status in ('pending', 'active', 'succeeded', 'failed', 'cancelled', 'skipped')),
  -- Raised each time a retry of the run runs the step again; its tasks carry the generation they belong to.
  generation integer not null default 1,
  -- for_each: how many tasks this generation has (null for a step of one task).
  items integer,
  output json,
  -- {"code", "message"}
  error jsonb,
  finished_at timestamptz,
  primary key (run_id, step_id)
);

-- A parent's completion as its child sees it: one row per (step, parent), written in the
-- transaction that makes the parent final. The child is released when it has a row for every
-- parent, by whichever transaction writes the last one; a key, not a counter, so a completion
-- recorded twice counts once.
create table berth.workflow_step_parents (
  run_id uuid not null,
  step_id text not null,
  parent_id text not null,
  recorded_at timestamptz not null default now(),
  primary key (run_id, step_id, parent_id),
  foreign key (run_id, step_id) references berth.workflow_steps (run_id, step_id) on delete cascade
);

alter table berth.tasks
  add column workflow_id uuid references berth.workflow_runs (id) on delete cascade,
  add column step_id text,
  add column step_generation integer,
  add column item_index integer,
  add constraint tasks_step_of_a_run check ((workflow_id is null) = (step_id is null) and (workflow_id is null) = (step_generation is null));
create index tasks_workflow_idx on berth.tasks (workflow_id, step_id, step_generation, item_index) where workflow_id is not null;

-- A step whose input does not match its runner's input_schema fails without running.
alter table berth.tasks drop constraint tasks_error_code_check;
alter table berth.tasks add constraint tasks_error_code_check
  check (error_code in ('nonzero_exit', 'timeout', 'invalid_output', 'output_too_large', 'engine_error', 'invalid_input'));

-- A run's callback, delivered like a task's: every attempt recorded.
create table berth.workflow_callback_deliveries (
  run_id uuid not null references berth.workflow_runs (id) on delete cascade,
  attempt integer not null,
  attempted_at timestamptz not null default now(),
  status_code integer,
  error text,
  primary key (run_id, attempt)
);

-- Idempotency keys and inbound webhook deliveries name what they created: a task or a run.
alter table berth.idempotency_keys
  alter column task_id drop not null,
  add column workflow_id uuid references berth.workflow_runs (id) on delete cascade deferrable initially deferred,
  add constraint idempotency_keys_one_target check (num_nonnulls(task_id, workflow_id) = 1);
alter table berth.webhook_deliveries
  alter column task_id drop not null,
  add column workflow_id uuid references berth.workflow_runs (id) on delete cascade deferrable initially deferred,
  add constraint webhook_deliveries_one_target check (num_nonnulls(task_id, workflow_id) = 1);
-- For the cascade when retention deletes a run.
create index idempotency_keys_workflow_idx on berth.idempotency_keys (workflow_id) where workflow_id is not null;
create index webhook_deliveries_workflow_idx on berth.webhook_deliveries (workflow_id) where workflow_id is not null;
