/**
 * /healthz: the process is up. /readyz: it can serve (database and container engine reachable).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { ReadinessCheck } from '../../readiness.ts';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

export const healthRoutes: FastifyPluginAsyncTypebox<{ readiness: ReadinessCheck }> = async (app, { readiness }) => {
  app.get('/healthz', {
    // Probed every few seconds (the image's HEALTHCHECK, a load balancer): two request lines each
    // time would drown the log. A failure here is no request's fault, so warn is loud enough.
    logLevel: 'warn',
    config: { scope: 'public' },
    schema: { tags: ['health'], summary: 'Liveness', response: { 200: Status } },
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    config: { scope: 'public' },
    schema: {
      tags: ['health'],
      summary: 'Readiness: database and container engine reachable',
      response: { 200: Status, 503: Type.Ref('ErrorResponse') },
    },
  }, async () => {
    await readiness();
    return { status: 'ready' };
  });
};
