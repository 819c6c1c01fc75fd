/**
 * GET /metrics: this process's metrics in the Prometheus text format (metrics.ts), with the
 * database's figures (queue depth and age, running tasks, workflow runs) read at each scrape.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

/** What the route needs of metrics.ts's Metrics. */
export interface MetricsExposition {
  readonly contentType: string;
  render(): Promise<string>;
}

export const metricsRoutes: FastifyPluginAsyncTypebox<{ metrics: MetricsExposition }> = async (app, { metrics }) => {
  app.get('/metrics', {
    // Queue depths and runner names of every runner: an operator's view.
    config: { scope: 'admin' },
    schema: {
      tags: ['health'],
      summary: 'Metrics in the Prometheus text format',
      description: 'Counters and histograms of this API process (tasks submitted and finished here, webhook deliveries), ' +
        'and figures read from the database at each scrape, the same on every replica: berth_queue_depth, ' +
        'berth_queue_oldest_age_seconds, berth_tasks_running (by runner), berth_workflow_runs (by status). ' +
        'Workers serve their own on BERTH_METRICS_PORT.',
      produces: ['text/plain'],
      response: { 200: Type.String({ description: 'Prometheus text exposition format 0.0.4' }) },
    },
  }, async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()));
};
