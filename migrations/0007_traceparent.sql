-- W3C trace context: the traceparent header a task or workflow run was submitted with (checked by
-- src/trace-context.ts; an invalid header is ignored, so only valid version-00 values are stored).
-- A task passes it to its container as TRACEPARENT and sends it on its callbacks; a run's step
-- tasks inherit their run's.
-- The column is new, so every existing row passes its check: not valid skips the scan of a large
-- table under the exclusive lock that adding the column takes.
alter table berth.tasks
  add column traceparent text,
  add constraint tasks_traceparent check (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$') not valid;

alter table berth.workflow_runs
  add column traceparent text,
  add constraint workflow_runs_traceparent check (traceparent ~ '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$') not valid;
