/**
 * /tasks: each handler is a schema and a service call.
 */
import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from 'typebox';
import type { TaskService } from '../../tasks/task-service.ts';
import { isFinal } from '../../tasks/task-status.ts';
import type { TaskWatch } from '../../tasks/task-watch.ts';
import {
  MAX_WAIT_SECONDS, Task, TaskBatch, TaskBatchResult, TaskIdParams, TaskListQuery, TaskLogsQuery, TaskPage, TaskSubmission, TaskWaitQuery,
} from '../../tasks/task-schemas.ts';
import type { HeldResponses } from '../held-response.ts';
import { TraceparentHeader, traceOption } from '../trace-header.ts';

const ErrorRef = Type.Ref('ErrorResponse');

const SubmitHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({
    minLength: 1, maxLength: 255,
    description: 'Replaying a request with the same key and body returns the first task (200) and queues nothing; ' +
      'the same key with another body is a 409. Keys are kept for at least 24 hours.',
  })),
  prefer: Type.Optional(Type.String({
    description: `\`wait=N\` (seconds, at most ${MAX_WAIT_SECONDS}): answer 200 with the finished task if it ends within N seconds, else 202`,
  })),
  traceparent: TraceparentHeader,
});

/** RFC 7240 `Prefer: wait=N`, among other preferences. */
function preferredWaitSeconds(prefer: string | undefined): number | undefined {
  const match = prefer === undefined ? null : /(?:^|[,;\s])wait\s*=\s*(\d+)/i.exec(prefer);
  return match === null ? undefined : Math.min(Number(match[1]), MAX_WAIT_SECONDS);
}

/**
 * The wait of a Prefer: wait, after its task was committed: a failure while waiting (the database
 * gone meanwhile) answers 202 with the task as stored, since an error would have the client submit
 * it again.
 */
async function waitAfterCommit(watch: TaskWatch, task: Task, waitSeconds: number, log: FastifyBaseLogger): Promise<Task> {
  try {
    return await watch.waitForCommitted(task, waitSeconds * 1000);
  } catch (error) {
    log.warn({ err: error, taskId: task.id }, 'waiting for a submitted task failed; answering with the task as stored');
    return task;
  }
}

export const taskRoutes: FastifyPluginAsyncTypebox<{
  tasks: TaskService; watch: TaskWatch; held: HeldResponses; batchBodyLimitBytes: number;
}> = async (
  app, { tasks, watch, held, batchBodyLimitBytes },
) => {
  app.post('/tasks', {
    config: { scope: 'tasks:write' },
    schema: {
      tags: ['tasks'],
      summary: 'Submit a task',
      description: 'Validates the input against the runner\'s input_schema and stores the task. ' +
        '202 means the task is committed and will run; any 4xx means nothing was queued. ' +
        '200 answers an idempotent replay, or a `Prefer: wait` the task finished within.',
      headers: SubmitHeaders,
      body: TaskSubmission,
      response: { 200: Task, 202: Task, 400: ErrorRef, 409: ErrorRef, 413: ErrorRef, 415: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => {
    const key = request.headers['idempotency-key'];
    const { task, created } = await tasks.submitTask(request.body, {
      ...(key === undefined ? {} : { idempotencyKey: key }), ...traceOption(request.headers), access: request.access,
    });
    request.log.info({ taskId: task.id, runner: task.runner, created }, 'task submitted');
    // The task is stored: past the bound on held requests the preference goes unmet (202 at once), never a 503.
    const preferred = preferredWaitSeconds(request.headers.prefer);
    const waitSeconds = preferred !== undefined && preferred > 0 && held.tryHold(reply) ? preferred : undefined;
    const current = waitSeconds === undefined || isFinal(task.status) ? task : await waitAfterCommit(watch, task, waitSeconds, request.log);
    if (waitSeconds !== undefined) void reply.header('preference-applied', `wait=${waitSeconds}`);
    const status = !created || (waitSeconds !== undefined && isFinal(current.status)) ? 200 : 202;
    return reply.code(status).header('location', `/tasks/${task.id}`).send(current);
  });

  app.post('/tasks/batch', {
    config: { scope: 'tasks:write' },
    bodyLimit: batchBodyLimitBytes,
    schema: {
      tags: ['tasks'],
      summary: 'Submit many tasks in one request and one transaction',
      description: 'All or nothing: if any submission is invalid, the answer is 400 naming each problem by its index ' +
        '(`/tasks/3/input/name`) and nothing is queued. 202 means every task is committed.',
      headers: Type.Object({ traceparent: TraceparentHeader }),
      body: TaskBatch,
      response: { 202: TaskBatchResult, 400: ErrorRef, 413: ErrorRef, 415: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => reply.code(202).send({
    tasks: await tasks.submitBatch(request.body.tasks, { ...traceOption(request.headers), access: request.access }),
  }));

  app.get('/tasks', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['tasks'],
      summary: 'List tasks, newest first',
      description: 'Filter by runner, status and workflow run; page with the returned nextCursor. Pages are stable while tasks are added.',
      querystring: TaskListQuery,
      response: { 200: TaskPage, 400: ErrorRef },
    },
  }, async (request) => tasks.listTasks(request.query, request.access));

  app.get('/tasks/:id', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['tasks'],
      summary: 'Read a task: status, output, error, attempts',
      description: `With \`wait=N\` (seconds, at most ${MAX_WAIT_SECONDS}) the request is held until the task is final or N seconds pass.`,
      params: TaskIdParams,
      querystring: TaskWaitQuery,
      response: { 200: Task, 404: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => {
    const wait = request.query.wait;
    if (wait === undefined || wait === 0) return tasks.getTask(request.params.id, request.access);
    held.hold(reply);
    return watch.waitForTask(request.params.id, wait * 1000, request.access);
  });

  app.post('/tasks/:id/cancel', {
    config: { scope: 'tasks:write' },
    schema: {
      tags: ['tasks'],
      summary: 'Cancel a task',
      description: 'A queued task never runs; a running task\'s container is killed. A finished task answers 409 with its status.',
      params: TaskIdParams,
      response: { 200: Task, 404: ErrorRef, 409: ErrorRef },
    },
  }, async (request) => tasks.cancelTask(request.params.id, request.access));

  app.get('/tasks/:id/logs', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['tasks'],
      summary: 'The task\'s stderr',
      description: 'The latest attempt\'s stderr (its tail, when longer than the log limit). With `follow=true` the ' +
        'response is a chunked text/plain stream of stderr as it is written, across retries, that ends when the task ends.',
      params: TaskIdParams,
      querystring: TaskLogsQuery,
      response: {
        200: { description: 'stderr as written by the container', content: { 'text/plain': { schema: Type.String() } } },
        404: ErrorRef,
        503: ErrorRef,
      },
    },
  }, async (request, reply) => {
    const { follow, attempt } = request.query;
    void reply.type('text/plain; charset=utf-8');
    if (follow !== true) return reply.send(await watch.readLogs(request.params.id, attempt, request.access));
    // Read the task once before streaming, so an unknown id is still a 404, not an empty stream.
    await tasks.getTask(request.params.id, request.access);
    held.hold(reply);
    return reply.header('cache-control', 'no-cache').send(Readable.from(watch.followLogs(request.params.id, attempt, request.access)));
  });
};
