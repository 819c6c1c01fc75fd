/**
 * The OpenAPI document, produced from the routes without a database or engine: the app is built
 * with inert services and never listens. Used by `npm run openapi` (writes openapi/openapi.json)
 * and by the drift test.
 */
import { buildApp } from './app.ts';

const inert = (): never => {
  throw new Error('not available while generating the OpenAPI document');
};

export async function buildOpenApiDocument(): Promise<unknown> {
  const app = await buildApp({
    tasks: { submitTask: inert, submitBatch: inert, getTask: inert, listTasks: inert, cancelTask: inert },
    watch: { waitForTask: inert, waitForCommitted: inert, waitFor: inert, readLogs: inert, followLogs: inert },
    workflows: { submit: inert, get: inert, list: inert, cancel: inert, retry: inert },
    schedules: { sync: inert, tickDue: inert, list: inert, get: inert, pause: inert, resume: inert, trigger: inert },
    webhooks: { receive: inert },
    runners: { runners: new Map() },
    readiness: async () => undefined,
    metrics: { contentType: 'text/plain', render: inert },
    bodyLimitBytes: 1,
  });
  try {
    await app.ready();
    return app.swagger();
  } finally {
    await app.close();
  }
}

export function serializeOpenApi(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
