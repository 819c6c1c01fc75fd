-- One owner for a task's life (src/tasks/task-lifecycle.ts), and what it needs from the schema.

-- json, not jsonb, like input: it stores any valid JSON text exactly as the container wrote it,
-- \u0000 included (jsonb refuses that escape, which made such a task's final write fail).
alter table berth.tasks alter column output type json using output::json;

-- Set while a queued task waits for a free slot of its runner's concurrency limit. A parked task
-- has no job: the lifecycle queues one for it in the transaction that frees a slot.
alter table berth.tasks add column parked_at timestamptz;
create index tasks_parked_idx on berth.tasks (runner, priority desc, id) where parked_at is not null;

-- This deployment's identity: the value of the berth.managed-by label on its containers, so that
-- deployments on other databases that share an engine never take each other's containers as orphans.
create table berth.deployment (
  singleton boolean primary key default true check (singleton),
  id uuid not null default gen_random_uuid(),
  created_at timestamptz not null default now()
);
insert into berth.deployment default values;
