/**
 * SQL for inbound webhook deliveries: de-duplication of redeliveries, recorded with what they
 * created (a task, or a workflow run).
 */
import type { Queryable } from '../db.ts';
import { createdColumns, createdFrom, type Created } from './idempotency-store.ts';

/** Records an inbound delivery; when it was seen before, returns what it created. */
export async function recordWebhookDelivery(db: Queryable, webhook: string, deliveryId: string, created: Created): Promise<Created | null> {
  const inserted = await db.query(
    `insert into berth.webhook_deliveries (webhook, delivery_id, task_id, workflow_id) values ($1, $2, $3, $4) on conflict do nothing`,
    [webhook, deliveryId, ...createdColumns(created)],
  );
  if (inserted.rowCount === 1) return null;
  // A second statement, so it sees the row a concurrent delivery committed while this one waited.
  const { rows } = await db.query<{ task_id: string | null; workflow_id: string | null }>(
    `select task_id, workflow_id from berth.webhook_deliveries where webhook = $1 and delivery_id = $2`,
    [webhook, deliveryId],
  );
  if (rows[0] === undefined) throw new Error('webhook delivery vanished while being read; retry the delivery');
  return createdFrom(rows[0]);
}
