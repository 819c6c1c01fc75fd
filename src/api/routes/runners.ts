/**
 * /runners: what can be run, without env values (they may hold secrets).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RunnersConfig } from '../../runners/runner.ts';
import { RunnerNameParams, RunnerView } from '../../runners/runner-schemas.ts';
import { getRunnerView, listRunnerViews } from '../../runners/runner-view.ts';

export const runnerRoutes: FastifyPluginAsyncTypebox<{ runners: RunnersConfig }> = async (app, { runners }) => {
  app.get('/runners', {
    config: { scope: 'tasks:read' },
    schema: { tags: ['runners'], summary: 'List runners', response: { 200: Type.Array(RunnerView) } },
  }, async (request) => listRunnerViews(runners, request.access));

  app.get('/runners/:name', {
    config: { scope: 'tasks:read' },
    schema: {
      tags: ['runners'],
      summary: 'Read one runner',
      params: RunnerNameParams,
      response: { 200: RunnerView, 404: Type.Ref('ErrorResponse') },
    },
  }, async (request) => getRunnerView(runners, request.params.name, request.access));
};
