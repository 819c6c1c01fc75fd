/**
 * /tasks: each handler is a schema and one service call.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TaskService } from '../../tasks/task-service.ts';
import { Task, TaskIdParams, TaskSubmission } from '../../tasks/task-schemas.ts';

const ErrorRef = Type.Ref('ErrorResponse');

export const taskRoutes: FastifyPluginAsyncTypebox<{ tasks: TaskService }> = async (app, { tasks }) => {
  app.post('/tasks', {
    schema: {
      tags: ['tasks'],
      summary: 'Submit a task',
      description: 'Validates the input against the runner\'s input_schema and stores the task. ' +
        '202 means the task is committed and will run; any 4xx means nothing was queued.',
      body: TaskSubmission,
      response: { 202: Task, 400: ErrorRef, 413: ErrorRef, 415: ErrorRef, 503: ErrorRef },
    },
  }, async (request, reply) => {
    const task = await tasks.submitTask(request.body);
    return reply.code(202).header('location', `/tasks/${task.id}`).send(task);
  });

  app.get('/tasks/:id', {
    schema: {
      tags: ['tasks'],
      summary: 'Read a task: status, output, error',
      params: TaskIdParams,
      response: { 200: Task, 404: ErrorRef },
    },
  }, async (request) => tasks.getTask(request.params.id));

  app.get('/tasks/:id/logs', {
    schema: {
      tags: ['tasks'],
      summary: 'The task\'s stderr (the tail, when it was longer than the log limit)',
      params: TaskIdParams,
      response: {
        200: { description: 'stderr as written by the container', content: { 'text/plain': { schema: Type.String() } } },
        404: ErrorRef,
      },
    },
  }, async (request, reply) => {
    const logs = await tasks.getTaskLogs(request.params.id);
    return reply.type('text/plain; charset=utf-8').send(logs);
  });
};
