/**
 * POST /webhooks/{name}: the raw bytes go to the service untouched — signatures are computed over
 * them, and Asterisk's bodies may come with no Content-Type at all — so this scope parses nothing.
 * Only the JSON depth limit is checked here, before the service parses the bytes (like the body
 * size limit, before authentication).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { WebhookService } from '../../webhooks/webhook-service.ts';
import { assertWebhookBodyDepth } from '../json-body.ts';

const ErrorRef = Type.Ref('ErrorResponse');

const Receipt = Type.Object(
  {
    taskId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The task started by a webhook naming a runner; null for one naming a workflow, or when the event was ignored',
    }),
    workflowId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
      description: 'The workflow run started by a webhook naming a workflow; null for one naming a runner, or when the event was ignored',
    }),
    duplicate: Type.Boolean({ description: 'A redelivery: taskId or workflowId is what the first delivery started' }),
    ignored: Type.Union([Type.String(), Type.Null()], { description: 'Why nothing was started (event filter)' }),
  },
  { additionalProperties: false },
);

export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (app, { webhooks }) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    assertWebhookBodyDepth(body as Buffer, request.headers['content-type']);
    done(null, body);
  });

  app.post('/webhooks/:name', {
    // Each webhook has its own secret, checked by the service against the raw body.
    config: { scope: 'public' },
    schema: {
      tags: ['webhooks'],
      summary: 'Receive a webhook (Jira, Asterisk or a Standard Webhooks sender) and start its task or workflow run',
      description: 'Authenticated before anything is queued: jira by X-Hub-Signature (HMAC-SHA256 of the raw body), ' +
        'asterisk by a token (Authorization: Bearer or ?token=), generic by Standard Webhooks signature and timestamp. ' +
        'A redelivery (X-Atlassian-Webhook-Identifier, webhook-id) answers 200 with the first task or run.',
      params: Type.Object({ name: Type.String() }),
      response: { 200: Receipt, 202: Receipt, 400: ErrorRef, 401: ErrorRef, 404: ErrorRef, 413: ErrorRef, 429: ErrorRef },
    },
  }, async (request, reply) => {
    const body = request.body;
    const receipt = await webhooks.receive(request.params.name, {
      rawBody: Buffer.isBuffer(body) ? body : Buffer.alloc(0),
      contentType: request.headers['content-type'],
      headers: request.headers,
      query: request.query as Record<string, string | string[] | undefined>,
    });
    const { status, ...answer } = receipt;
    return reply.code(status).send(answer);
  });
};
