/**
 * OpenAPI and Swagger UI, generated from the same TypeBox schemas the routes validate with.
 * The spec is served at /openapi.json and committed as openapi/openapi.json (see write-openapi.ts).
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const API_VERSION = '0.1.0';

export async function registerSwagger(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    // Shared schemas appear under their $id (ErrorResponse), not as def-N.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json['$id'] ?? `def-${i}`) },
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Berth',
        version: API_VERSION,
        description: 'Run tasks in ephemeral containers over HTTP. A task names a runner and carries a JSON input; ' +
          'the input goes to the container\'s stdin and the result comes back from its stdout.',
      },
      tags: [
        { name: 'tasks', description: 'Submit tasks and read their status, result and logs' },
        { name: 'workflows', description: 'Runs of workflows: pipelines and fan-ins of runners, declared in the runners file' },
        { name: 'schedules', description: 'Tasks and workflow runs on a cron clock, declared in the runners file' },
        { name: 'webhooks', description: 'Tasks started by other systems: Jira, Asterisk, Standard Webhooks senders' },
        { name: 'runners', description: 'The configured runners' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'An API key from the runners file\'s auth: section. Each operation names the scope it needs ' +
              '(x-berth-scope): tasks:read, tasks:write or admin (which holds both).',
          },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}
