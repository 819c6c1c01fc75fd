-- Tasks are Berth's own record of truth; pg-boss jobs only carry {taskId} to a worker.
create table berth.tasks (
  id uuid primary key,
  runner text not null,
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  -- json, not jsonb: the worker writes exactly this text to the container's stdin.
  input json not null,
  output jsonb,
  error_code text
    check (error_code in ('nonzero_exit', 'timeout', 'invalid_output', 'output_too_large', 'engine_error')),
  error_message text,
  exit_code integer,
  -- Number of attempts started; each state/result write is fenced by it.
  attempts integer not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  constraint tasks_finished_when_final
    check ((status in ('succeeded', 'failed', 'cancelled')) = (finished_at is not null)),
  constraint tasks_error_when_failed
    check ((status = 'failed') = (error_code is not null))
);
