-- Inbound webhook deliveries, for de-duplication of redeliveries (Jira retries, Standard Webhooks ids),
-- and outbound callbacks: where a task reports its end, and every delivery attempt.

alter table berth.tasks add column callback_url text;

create table berth.webhook_deliveries (
  webhook text not null,
  delivery_id text not null,
  -- Deferred, like idempotency keys: the delivery is recorded first, so a redelivery is found
  -- before anything else is written.
  task_id uuid not null references berth.tasks (id) on delete cascade deferrable initially deferred,
  created_at timestamptz not null default now(),
  primary key (webhook, delivery_id)
);
create index webhook_deliveries_task_idx on berth.webhook_deliveries (task_id);

create table berth.callback_deliveries (
  task_id uuid not null references berth.tasks (id) on delete cascade,
  attempt integer not null,
  attempted_at timestamptz not null default now(),
  status_code integer,
  error text,
  primary key (task_id, attempt)
);
