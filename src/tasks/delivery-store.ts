/**
 * SQL for webhook deliveries (inbound de-duplication) and callback deliveries (outbound attempts).
 */
import type { Queryable } from '../db.ts';

/** Records an inbound delivery for `taskId`; when it was seen before, returns the task it created. */
export async function recordWebhookDelivery(db: Queryable, webhook: string, deliveryId: string, taskId: string): Promise<string | null> {
  const inserted = await db.query(
    `insert into berth.webhook_deliveries (webhook, delivery_id, task_id) values ($1, $2, $3) on conflict do nothing`,
    [webhook, deliveryId, taskId],
  );
  if (inserted.rowCount === 1) return null;
  // A second statement, so it sees the row a concurrent delivery committed while this one waited.
  const { rows } = await db.query<{ task_id: string }>(
    `select task_id from berth.webhook_deliveries where webhook = $1 and delivery_id = $2`,
    [webhook, deliveryId],
  );
  if (rows[0] === undefined) throw new Error('webhook delivery vanished while being read; retry the delivery');
  return rows[0].task_id;
}

export interface CallbackAttempt {
  readonly attempt: number;
  readonly statusCode: number | null;
  readonly error: string | null;
}

export async function recordCallbackAttempt(db: Queryable, taskId: string, outcome: Omit<CallbackAttempt, 'attempt'>): Promise<number> {
  const { rows } = await db.query<{ attempt: number }>(
    `insert into berth.callback_deliveries (task_id, attempt, status_code, error)
     select $1, coalesce(max(attempt), 0) + 1, $2, $3 from berth.callback_deliveries where task_id = $1
     returning attempt`,
    [taskId, outcome.statusCode, outcome.error],
  );
  return rows[0]!.attempt;
}
