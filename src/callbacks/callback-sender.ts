/**
 * Delivers callbacks: when a task ends, its JSON is POSTed to its callbackUrl, signed per
 * Standard Webhooks (webhook-id stays the same across retries, so receivers can de-duplicate).
 * Every attempt is recorded on the task. A non-2xx answer or a network error fails the job and
 * pg-boss retries it with backoff; a slow receiver holds only a callback slot, never a task.
 */
import type { PgBoss } from 'pg-boss';
import type { Pool } from '../db.ts';
import type { Logger } from '../logger.ts';
import { CALLBACK_QUEUE, type RunTaskJob } from '../queue.ts';
import type { CallbackSettings } from '../runners/runner.ts';
import { readTask } from '../tasks/task-service.ts';
import { recordCallbackAttempt } from './callback-store.ts';
import { createAllowList, createGuardedFetch, type GuardedFetch, type Lookup } from '../address-guard.ts';
import { signStandardWebhook } from '../webhook-signatures.ts';

// Callbacks wait on other people's servers, not on the engine: a few at once per worker.
const CALLBACK_CONCURRENCY = 4;

export async function startCallbackSender(deps: {
  boss: PgBoss;
  pool: Pool;
  settings: CallbackSettings | undefined;
  logger: Logger;
  lookup?: Lookup;
}): Promise<void> {
  const { settings } = deps;
  const post: GuardedFetch | undefined = settings === undefined ? undefined : createGuardedFetch({
    allow: createAllowList(settings.allow), timeoutMs: settings.timeoutMs, ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
  });
  await deps.boss.work<RunTaskJob>(CALLBACK_QUEUE, {
    localConcurrency: CALLBACK_CONCURRENCY,
    batchSize: 1,
    // Retries come due by time, not by NOTIFY: without this, pg-boss's 30 s notify-mode poll
    // would stretch a 1 s backoff to half a minute.
    pollingIntervalSeconds: 1,
    notifyPollingIntervalSeconds: 1,
  }, async (jobs) => {
    for (const job of jobs) {
      if (settings === undefined || post === undefined) throw new Error('callbacks are not configured on this worker');
      await deliver(deps, settings, post, job.data.taskId);
    }
  });
}

async function deliver(
  deps: { pool: Pool; logger: Logger }, settings: CallbackSettings, post: GuardedFetch, taskId: string,
): Promise<void> {
  const task = await readTask(deps.pool, taskId);
  // Deleted by retention meanwhile, or never had a callback: nothing to report.
  if (task === null || task.callbackUrl === null) return;
  const timestamp = Math.floor(Date.now() / 1000);
  const messageId = `task_${task.id}`;
  const body = JSON.stringify({ type: `task.${task.status}`, timestamp: new Date(timestamp * 1000).toISOString(), data: task });
  let outcome: { statusCode: number | null; error: string | null };
  try {
    const response = await post(task.callbackUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Berth',
        'webhook-id': messageId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(settings.signingKey, messageId, timestamp, body),
      },
      body,
    });
    outcome = { statusCode: response.status, error: response.status >= 200 && response.status < 300 ? null : `answered ${response.status}` };
  } catch (error) {
    outcome = { statusCode: null, error: (error as Error).message };
  }
  const attempt = await recordCallbackAttempt(deps.pool, taskId, outcome);
  if (outcome.error !== null) {
    deps.logger.warn({ taskId, attempt, url: task.callbackUrl, error: outcome.error }, 'callback delivery failed; it will be retried while retries remain');
    throw new Error(`callback to ${task.callbackUrl} failed: ${outcome.error}`);
  }
  deps.logger.info({ taskId, attempt, status: outcome.statusCode }, 'callback delivered');
}
