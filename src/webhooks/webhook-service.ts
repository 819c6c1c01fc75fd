/**
 * Inbound webhooks: authenticate the sender over the raw bytes, read its payload, filter its
 * event, and start a task or a workflow run — fast, since Asterisk's dialplan blocks a live call
 * while it waits. Nothing is queued before the credential checks out; a redelivery creates no
 * second task or run.
 */
import { AppError, isAppError } from '../errors.ts';
import type { RunnersConfig, Webhook } from '../runners/runner.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { WorkflowService } from '../tasks/workflow-service.ts';
import { mapInput } from '../json-pointer.ts';
import { jiraEvent, parseAsteriskBody, parseJsonBody, type ParseResult } from './payloads.ts';
import { parseTraceparent } from '../trace-context.ts';
import { verifyBearerToken, verifyJiraSignature, verifyStandardWebhook } from '../webhook-signatures.ts';

type Values = Readonly<Record<string, string | string[] | undefined>>;

export interface InboundDelivery {
  readonly rawBody: Buffer;
  readonly contentType: string | undefined;
  readonly headers: Values;
  readonly query: Values;
}

export interface WebhookReceipt {
  /** 202: a task or run was started (or the event was ignored); 200: a redelivery of an earlier one. */
  readonly status: 200 | 202;
  /** The task started, for a runner's webhook. */
  readonly taskId: string | null;
  /** The run started, for a workflow's webhook. */
  readonly workflowId: string | null;
  readonly duplicate: boolean;
  readonly ignored: string | null;
}

export interface WebhookService {
  receive(name: string, delivery: InboundDelivery): Promise<WebhookReceipt>;
}

/** How a delivery to a configured webhook ended, for metrics. */
export type WebhookResult = 'started' | 'duplicate' | 'ignored' | 'unauthorized' | 'malformed' | 'error';

/** Told of each delivery to a configured webhook (metrics), in Berth's own types. */
export interface WebhookObserver {
  webhookDelivery(webhook: string, result: WebhookResult): void;
}

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

export function createWebhookService(deps: {
  runners: RunnersConfig; tasks: TaskService; workflows: WorkflowService; now?: () => number; observer?: WebhookObserver;
}): WebhookService {
  const now = deps.now ?? Date.now;

  async function receive(webhook: Webhook, delivery: InboundDelivery): Promise<WebhookReceipt> {
    authenticate(webhook, delivery, now());
    const parsed = parsePayload(webhook, delivery);
    if (!parsed.ok) throw new AppError('MALFORMED_PAYLOAD', `the ${webhook.source} payload could not be read: ${parsed.message}`);
    const event = eventOf(webhook, parsed.value);
    if (webhook.events !== undefined && (event === undefined || !webhook.events.includes(event))) {
      const nothing = webhook.target.kind === 'runner' ? 'no task was created' : 'no workflow run was started';
      const ignored = `event ${event === undefined ? '(none)' : `'${event}'`} is not one of ${webhook.events.join(', ')}; ${nothing}`;
      return { status: 202, taskId: null, workflowId: null, duplicate: false, ignored };
    }
    const deliveryId = deliveryIdOf(webhook, delivery);
    const start = {
      input: mapInput(parsed.value, webhook.input),
      ...(webhook.callback === undefined ? {} : { callbackUrl: webhook.callback }),
    };
    // A sender's trace context is kept like a client's (an invalid header is ignored).
    const traceparent = parseTraceparent(delivery.headers['traceparent']);
    const options = {
      ...(deliveryId === undefined ? {} : { delivery: { webhook: webhook.name, id: deliveryId } }),
      ...(traceparent === undefined ? {} : { traceparent }),
    };
    if (webhook.target.kind === 'workflow') {
      const { run, created } = await deps.workflows.submit({ workflow: webhook.target.name, ...start }, options);
      return receipt({ taskId: null, workflowId: run.id }, created);
    }
    const { task, created } = await deps.tasks.submitTask({ runner: webhook.target.name, ...start }, options);
    return receipt({ taskId: task.id, workflowId: null }, created);
  }

  return {
    async receive(name, delivery) {
      const webhook = deps.runners.webhooks?.get(name);
      // Not counted: the name is the sender's, and only configured names make bounded labels.
      if (webhook === undefined) throw new AppError('WEBHOOK_NOT_FOUND', `no webhook named '${name}'`);
      try {
        const answer = await receive(webhook, delivery);
        deps.observer?.webhookDelivery(webhook.name, answer.ignored !== null ? 'ignored' : answer.duplicate ? 'duplicate' : 'started');
        return answer;
      } catch (error) {
        deps.observer?.webhookDelivery(webhook.name, resultOf(error));
        throw error;
      }
    },
  };
}

function resultOf(error: unknown): WebhookResult {
  if (isAppError(error) && error.code === 'UNAUTHORIZED') return 'unauthorized';
  if (isAppError(error) && error.code === 'MALFORMED_PAYLOAD') return 'malformed';
  return 'error';
}

function receipt(started: Pick<WebhookReceipt, 'taskId' | 'workflowId'>, created: boolean): WebhookReceipt {
  return { status: created ? 202 : 200, ...started, duplicate: !created, ignored: null };
}

function authenticate(webhook: Webhook, delivery: InboundDelivery, nowMs: number): void {
  const h = (key: string) => first(delivery.headers[key]);
  let ok: boolean;
  let why = 'missing or invalid credentials';
  switch (webhook.source) {
    case 'jira':
      ok = verifyJiraSignature(delivery.rawBody, h('x-hub-signature'), webhook.secret);
      why = 'missing or invalid X-Hub-Signature';
      break;
    case 'asterisk': {
      const bearer = /^Bearer\s+(.+)$/i.exec(h('authorization') ?? '')?.[1];
      ok = verifyBearerToken(bearer ?? first(delivery.query['token']), webhook.secret);
      why = 'missing or invalid token (Authorization: Bearer, or ?token=)';
      break;
    }
    case 'generic': {
      const verdict = verifyStandardWebhook(
        webhook.signingKey!, { id: h('webhook-id'), timestamp: h('webhook-timestamp'), signature: h('webhook-signature') },
        delivery.rawBody, Math.floor(nowMs / 1000), webhook.toleranceMs / 1000,
      );
      ok = verdict.ok;
      if (!verdict.ok) why = verdict.reason.replaceAll('_', ' ');
      break;
    }
  }
  if (!ok) throw new AppError('UNAUTHORIZED', `webhook '${webhook.name}': ${why}`);
}

function parsePayload(webhook: Webhook, delivery: InboundDelivery): ParseResult<unknown> {
  if (webhook.source === 'asterisk') return parseAsteriskBody(delivery.rawBody, delivery.contentType, delivery.query);
  return parseJsonBody(delivery.rawBody);
}

function eventOf(webhook: Webhook, payload: unknown): string | undefined {
  if (webhook.source === 'jira') return jiraEvent(payload);
  const type = (payload as { type?: unknown } | null)?.type;
  return typeof type === 'string' ? type : undefined;
}

/** Senders that retry say which delivery this is; Asterisk does not. */
function deliveryIdOf(webhook: Webhook, delivery: InboundDelivery): string | undefined {
  if (webhook.source === 'jira') return first(delivery.headers['x-atlassian-webhook-identifier']);
  if (webhook.source === 'generic') return first(delivery.headers['webhook-id']);
  return undefined;
}
