/**
 * Delivers callbacks: when a task (or a workflow run) ends, its JSON is POSTed to its callbackUrl, signed per
 * Standard Webhooks (webhook-id stays the same across retries, so receivers can de-duplicate).
 * Every attempt is recorded on the task. A non-2xx answer or a network error fails the job and
 * pg-boss retries it with backoff; a slow receiver holds only a callback slot, never a task.
 */
import type { PgBoss } from 'pg-boss';
import type { Pool } from '../db.ts';
import type { Logger } from '../logger.ts';
import { CALLBACK_QUEUE, type CallbackJob } from '../queue.ts';
import { endpointFor } from '../runners/callback-endpoints.ts';
import type { CallbackSettings } from '../runners/runner.ts';
import { readTask } from '../tasks/task-service.ts';
import { readRun } from '../tasks/workflow-service.ts';
import { recordCallbackAttempt, recordRunCallbackAttempt, type CallbackAttempt } from './callback-store.ts';
import { createAllowList, createGuardedFetch, type GuardedFetch, type Lookup } from '../address-guard.ts';
import { signStandardWebhook } from '../webhook-signatures.ts';

// Callbacks wait on other people's servers, not on the engine: a few at once per worker.
const CALLBACK_CONCURRENCY = 4;

/** Told of each delivery attempt (metrics), in Berth's own types. */
export interface CallbackObserver {
  callbackDelivery(subject: 'task' | 'workflow', ok: boolean): void;
}

export async function startCallbackSender(deps: {
  boss: PgBoss;
  pool: Pool;
  settings: CallbackSettings | undefined;
  logger: Logger;
  lookup?: Lookup;
  observer?: CallbackObserver;
}): Promise<void> {
  const { settings } = deps;
  const post: GuardedFetch | undefined = settings === undefined ? undefined : createGuardedFetch({
    allow: createAllowList(settings.allow), timeoutMs: settings.timeoutMs, ...(deps.lookup === undefined ? {} : { lookup: deps.lookup }),
  });
  await deps.boss.work<CallbackJob>(CALLBACK_QUEUE, {
    localConcurrency: CALLBACK_CONCURRENCY,
    batchSize: 1,
    // Retries come due by time, not by NOTIFY: without this, pg-boss's 30 s notify-mode poll
    // would stretch a 1 s backoff to half a minute.
    pollingIntervalSeconds: 1,
    notifyPollingIntervalSeconds: 1,
  }, async (jobs) => {
    for (const job of jobs) {
      if (settings === undefined || post === undefined) throw new Error('callbacks are not configured on this worker');
      await deliver(deps, settings, post, job.data);
    }
  });
}

/** What a callback reports: where it goes, what it says, and where its attempts are recorded. */
interface Report {
  readonly url: string;
  /** Standard Webhooks' webhook-id: the same across retries. */
  readonly messageId: string;
  readonly type: string;
  readonly data: unknown;
  readonly subject: CallbackJob;
  /** W3C traceparent of the task or run, sent as the traceparent header. */
  readonly traceparent: string | null;
  record(outcome: Omit<CallbackAttempt, 'attempt'>): Promise<number>;
}

/**
 * null: deleted by retention meanwhile, no callback to report, or a run that no longer is as it
 * ended then (retried since: it reports its next end itself).
 */
async function reportOf(pool: Pool, job: CallbackJob): Promise<Report | null> {
  if ('workflowId' in job) {
    const run = await readRun(pool, job.workflowId);
    if (run === null || run.callbackUrl === null || run.finishedAt !== new Date(job.endedAt).toISOString()) return null;
    return {
      url: run.callbackUrl, messageId: `workflow_${run.id}_${Date.parse(job.endedAt)}`, type: `workflow.${run.status}`, data: run, subject: job,
      traceparent: run.traceparent,
      record: (outcome) => recordRunCallbackAttempt(pool, run.id, outcome),
    };
  }
  const task = await readTask(pool, job.taskId);
  if (task === null || task.callbackUrl === null) return null;
  return {
    url: task.callbackUrl, messageId: `task_${task.id}`, type: `task.${task.status}`, data: task, subject: job, traceparent: task.traceparent,
    record: (outcome) => recordCallbackAttempt(pool, task.id, outcome),
  };
}

async function deliver(
  deps: { pool: Pool; logger: Logger; observer?: CallbackObserver }, settings: CallbackSettings, post: GuardedFetch, job: CallbackJob,
): Promise<void> {
  const report = await reportOf(deps.pool, job);
  if (report === null) return;
  const endpoint = endpointFor(settings.endpoints, report.url);
  if (endpoint === undefined) {
    // The runners file changed since submission: no secret may sign this URL now, and none will later.
    const error = 'no callbacks endpoint covers this URL any more (callbacks.endpoints); not sent, and not retried';
    const attempt = await report.record({ statusCode: null, error });
    deps.observer?.callbackDelivery('workflowId' in job ? 'workflow' : 'task', false);
    deps.logger.warn({ ...report.subject, attempt, url: report.url }, error);
    return;
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ type: report.type, timestamp: new Date(timestamp * 1000).toISOString(), data: report.data });
  let outcome: { statusCode: number | null; error: string | null };
  try {
    const response = await post(report.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Berth',
        'webhook-id': report.messageId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(endpoint.signingKey, report.messageId, timestamp, body),
        ...(report.traceparent === null ? {} : { traceparent: report.traceparent }),
      },
      body,
    });
    outcome = { statusCode: response.status, error: response.status >= 200 && response.status < 300 ? null : `answered ${response.status}` };
  } catch (error) {
    outcome = { statusCode: null, error: (error as Error).message };
  }
  const attempt = await report.record(outcome);
  deps.observer?.callbackDelivery('workflowId' in job ? 'workflow' : 'task', outcome.error === null);
  if (outcome.error !== null) {
    deps.logger.warn({ ...report.subject, attempt, url: report.url, error: outcome.error }, 'callback delivery failed; it will be retried while retries remain');
    throw new Error(`callback to ${report.url} failed: ${outcome.error}`);
  }
  deps.logger.info({ ...report.subject, attempt, status: outcome.statusCode }, 'callback delivered');
}
