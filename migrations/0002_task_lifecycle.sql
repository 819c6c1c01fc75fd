-- Steering and fault tolerance: priority and delayed start, retries with per-attempt history,
-- live logs per attempt, idempotency keys, and a heartbeat that tells a live attempt from a lost one.

alter table berth.tasks
  add column priority integer not null default 0,
  -- The earliest time the task may start, when the client asked for a delay.
  add column run_after timestamptz,
  -- 1 + the runner's retry limit, fixed at submission so a config change does not rewrite history.
  add column max_attempts integer not null default 1 check (max_attempts >= 1),
  -- When a retry is scheduled: the earliest start of the next attempt.
  add column next_attempt_at timestamptz,
  -- Refreshed by the worker holding the running attempt; a stale one means the worker is gone.
  add column heartbeat_at timestamptz,
  -- The pg-boss job the running attempt was handed by, so a lost attempt's job can be settled.
  add column job_id uuid;

create index tasks_runner_idx on berth.tasks (runner, id desc);
create index tasks_status_idx on berth.tasks (status, id desc);
create index tasks_retention_idx on berth.tasks (finished_at) where finished_at is not null;
create index tasks_running_idx on berth.tasks (heartbeat_at) where status = 'running';

create table berth.task_attempts (
  task_id uuid not null references berth.tasks (id) on delete cascade,
  attempt integer not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  exit_code integer,
  -- The task error codes, plus 'interrupted' (worker shutdown) and 'cancelled'.
  error_code text,
  error_message text,
  primary key (task_id, attempt)
);

-- stderr as it is written, per attempt, in order. Bounded: once an attempt's log passes the limit
-- the worker replaces its chunks with the tail.
create table berth.task_log_chunks (
  task_id uuid not null references berth.tasks (id) on delete cascade,
  attempt integer not null,
  seq bigint generated always as identity,
  content bytea not null,
  primary key (task_id, seq)
);

create table berth.idempotency_keys (
  key text primary key,
  -- sha256 of the canonical request body: the same key with another body is a conflict.
  request_hash text not null,
  -- Deferred: the key is recorded first in the submitting transaction, so a duplicate is found
  -- before anything else is written.
  task_id uuid not null references berth.tasks (id) on delete cascade deferrable initially deferred,
  created_at timestamptz not null default now()
);
create index idempotency_keys_created_idx on berth.idempotency_keys (created_at);
