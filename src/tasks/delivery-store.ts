/**
 * SQL for inbound webhook deliveries: de-duplication of redeliveries, recorded with the task they created.
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
