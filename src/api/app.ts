/**
 * buildApp(deps): the HTTP API, fully wired but not listening. Entry points and tests build it;
 * every route module is registered explicitly here, with the services it needs as options.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError, ErrorResponse } from '../errors.ts';
import { redactUrl } from '../logger.ts';
import type { ReadinessCheck } from '../readiness.ts';
import type { RunnersConfig } from '../runners/runner.ts';
import type { TaskService } from '../tasks/task-service.ts';
import type { TaskWatch } from '../tasks/task-watch.ts';
import type { ScheduleService } from '../tasks/schedule-service.ts';
import type { WorkflowService } from '../tasks/workflow-service.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import { registerApiAccess, type ApiAccessMode, type ApiRateLimits } from './api-access.ts';
import { errorHandler } from './error-handler.ts';
import { createHeldResponses } from './held-response.ts';
import { registerJsonBodyParser } from './json-body.ts';
import { genReqId, registerRequestIdHeader } from './request-id.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes, type MetricsExposition } from './routes/metrics.ts';
import { runnerRoutes } from './routes/runners.ts';
import { taskRoutes } from './routes/tasks.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { scheduleRoutes } from './routes/schedules.ts';
import { uiRoutes } from './routes/ui.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { registerSwagger } from './swagger.ts';
import { registerUnreadBodyDiscard } from './unread-body.ts';
import { createValidatorCompiler } from './validator-compiler.ts';

export interface AppDeps {
  readonly tasks: TaskService;
  readonly watch: TaskWatch;
  readonly workflows: WorkflowService;
  readonly schedules: ScheduleService;
  readonly webhooks: WebhookService;
  readonly runners: RunnersConfig;
  readonly readiness: ReadinessCheck;
  /** What GET /metrics serves. */
  readonly metrics: MetricsExposition;
  readonly bodyLimitBytes: number;
  readonly batchBodyLimitBytes?: number;
  /** Most requests held at once (wait, follow); 1,000 when omitted. */
  readonly heldLimit?: number;
  /** Who may use the API (api-access.ts); omitted: open, as for tests and the OpenAPI document. */
  readonly access?: ApiAccessMode;
  /** Rate limits per key and per webhook sender; omitted: none. */
  readonly rateLimits?: ApiRateLimits;
  /** Omitted: no request logging (tests, OpenAPI generation). */
  readonly logger?: FastifyBaseLogger;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger === undefined ? { logger: false } : { loggerInstance: deps.logger }),
    bodyLimit: deps.bodyLimitBytes,
    // Fastify's default is no limit: a client trickling a request would hold a socket forever.
    // Node checks it every 30 s, so such a client is cut 30 to 60 s after it started.
    requestTimeout: 30_000,
    // A socket on which nothing moved this long is destroyed: it cuts clients that stop reading.
    // Responses Berth holds on purpose (waits, followed logs) are exempt: see held-response.ts.
    connectionTimeout: 60_000,
    return503OnClosing: true,
    genReqId,
    // Errors found before routing (a bad percent-encoding, an overlong path segment) get the same
    // {statusCode, code, message} shape as every other error, instead of Fastify's own.
    frameworkErrors: (error, request, reply) => errorHandler(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerRequestIdHeader(app);
  registerJsonBodyParser(app);
  registerUnreadBodyDiscard(app);
  app.setValidatorCompiler(createValidatorCompiler());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request) => {
    throw new AppError('ROUTE_NOT_FOUND', `no route ${request.method} ${redactUrl(request.url)}`);
  });
  app.addSchema(ErrorResponse);
  // Before any route, so that every route's scope is checked and documented as it is added.
  registerApiAccess(app, deps.access ?? { kind: 'open' }, deps.rateLimits);

  await registerSwagger(app);
  const held = createHeldResponses(deps.heldLimit ?? 1_000);
  await app.register(taskRoutes, {
    tasks: deps.tasks, watch: deps.watch, held, batchBodyLimitBytes: deps.batchBodyLimitBytes ?? deps.bodyLimitBytes * 16,
  });
  await app.register(workflowRoutes, { workflows: deps.workflows, held });
  await app.register(scheduleRoutes, { schedules: deps.schedules });
  await app.register(webhookRoutes, { webhooks: deps.webhooks });
  await app.register(runnerRoutes, { runners: deps.runners });
  await app.register(healthRoutes, { readiness: deps.readiness });
  await app.register(metricsRoutes, { metrics: deps.metrics });
  await app.register(uiRoutes);
  return app;
}
