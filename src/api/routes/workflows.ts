/**
 * /workflows: runs of the workflows declared in the runners file; each handler is a schema and a
 * service call.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_WAIT_SECONDS } from '../../tasks/task-schemas.ts';
import type { WorkflowService } from '../../tasks/workflow-service.ts';
import {
  WorkflowRun, WorkflowRunIdParams, WorkflowRunListQuery, WorkflowRunPage, WorkflowSubmission, WorkflowWaitQuery,
} from '../../tasks/workflow-schemas.ts';
import type { HeldResponses } from '../held-response.ts';
import { TraceparentHeader, traceOption } from '../trace-header.ts';

const ErrorRef = Type.Ref('ErrorResponse');

const SubmitHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1, maxLength: 255,
    description: 'Replaying a request with the same key and body returns the first run (200) and creates nothing; ' +
      'the same key with another body is a 409. Keys are kept for at least 24 hours.',
  })),
  traceparent: TraceparentHeader,
});

export const workflowRoutes: FastifyPluginAsyncTypebox<{ workflows: WorkflowService; held: HeldResponses }> = async (app, { workflows, held }) => {
  app.post('/workflows', {
    config: { scope: 'tasks:write' },
    schema: {
      tags: ['workflows'],
      summary: 'Start a workflow run',
      description: 'Validates the input against the workflow\'s input_schema (and each for_each over it against its step\'s ' +
        'max_items) and stores the run with the tasks of the steps that need nothing, in one transaction. ' +
        '202 means the run is committed and will go on; any 4xx means nothing was created; 200 answers an idempotent replay.',
      headers: SubmitHeaders,
      body: WorkflowSubmission,
      response: { 200: WorkflowRun, 202: WorkflowRun, 400: ErrorRef, 409: ErrorRef, 413: ErrorRef, 415: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => {
    const key = request.headers['idempotency-key'];
    const { run, created } = await workflows.submit(request.body, {
      ...(key === undefined ? {} : { idempotencyKey: key }), ...traceOption(request.headers), access: request.access,
    });
    return reply.code(created ? 202 : 200).header('location', `/workflows/${run.id}`).send(run);
  });

  app.get('/workflows', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['workflows'],
      summary: 'List workflow runs, newest first',
      description: 'Filter by workflow and status; page with the returned nextCursor.',
      querystring: WorkflowRunListQuery,
      response: { 200: WorkflowRunPage, 400: ErrorRef },
    },
  }, async (request) => workflows.list(request.query, request.access));

  app.get('/workflows/:id', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['workflows'],
      summary: 'Read a workflow run: its status, output, and each step',
      description: `With \`wait=N\` (seconds, at most ${MAX_WAIT_SECONDS}) the request is held until the run is final or N seconds pass.`,
      params: WorkflowRunIdParams,
      querystring: WorkflowWaitQuery,
      response: { 200: WorkflowRun, 404: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => {
    const wait = request.query.wait;
    if (wait !== undefined && wait > 0) held.hold(reply);
    return workflows.get(request.params.id, wait === undefined ? undefined : wait * 1000, request.access);
  });

  app.post('/workflows/:id/cancel', {
    config: { scope: 'tasks:write' },
    schema: {
      tags: ['workflows'],
      summary: 'Cancel a workflow run',
      description: 'Running steps\' containers are killed; queued and pending steps are cancelled; the run is cancelled. ' +
        'A final run answers 409.',
      params: WorkflowRunIdParams,
      response: { 200: WorkflowRun, 404: ErrorRef, 409: ErrorRef },
    },
  }, async (request) => workflows.cancel(request.params.id, request.access));

  app.post('/workflows/:id/retry', {
    config: { scope: 'tasks:write' },
    schema: {
      tags: ['workflows'],
      summary: 'Run a failed workflow run again from where it failed',
      description: 'Its failed, cancelled and skipped steps run again with fresh tasks; succeeded steps keep their outputs ' +
        'and do not run again. A run that has not failed answers 409.',
      params: WorkflowRunIdParams,
      response: { 202: WorkflowRun, 404: ErrorRef, 409: ErrorRef },
    },
  }, async (request, reply) => reply.code(202).send(await workflows.retry(request.params.id, request.access)));
};
