/**
 * The worker's own small HTTP server, on BERTH_METRICS_PORT: GET /metrics (this worker's metrics,
 * Prometheus text format), /healthz (the process is up) and /readyz (database and container engine
 * reachable), answered as the API answers them. Nothing else: the worker takes no requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isAppError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ReadinessCheck } from '../readiness.ts';

/** What the server needs of metrics.ts's Metrics. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface MetricsServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startMetricsServer(deps: {
  host: string; port: number; metrics: MetricsSource; readiness: ReadinessCheck; logger: Logger;
}): Promise<MetricsServer> {
  const server = http.createServer((request, response) => {
    void answer(deps, request.method ?? 'GET', (request.url ?? '/').split('?')[0]!).then(({ status, type, body }) => {
      response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  // A scraper keeps its connection open between scrapes; bounded like the API's.
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host, () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${deps.host.includes(':') ? `[${deps.host}]` : deps.host}:${port}`;
  deps.logger.info({ url }, 'worker metrics listening');
  return {
    url,
    stop: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

interface Answer { status: number; type: string; body: string }

const json = (status: number, value: unknown): Answer => ({ status, type: 'application/json; charset=utf-8', body: JSON.stringify(value) });

async function answer(deps: { metrics: MetricsSource; readiness: ReadinessCheck; logger: Logger }, method: string, path: string): Promise<Answer> {
  try {
    switch (method === 'GET' || method === 'HEAD' ? path : '') {
      case '/metrics': return { status: 200, type: deps.metrics.contentType, body: await deps.metrics.render() };
      case '/healthz': return json(200, { status: 'ok' });
      case '/readyz':
        await deps.readiness();
        return json(200, { status: 'ready' });
      default: return json(404, { statusCode: 404, code: 'ROUTE_NOT_FOUND', message: `no route ${method} ${path}` });
    }
  } catch (error) {
    if (isAppError(error)) {
      // The answer names what is down; the log keeps why (readiness's cause), once, here.
      if (error.statusCode >= 500) deps.logger.error({ err: error, path }, 'worker not ready');
      return json(error.statusCode, { statusCode: error.statusCode, code: error.code, message: error.message });
    }
    deps.logger.error({ err: error, path }, 'worker metrics server failed to answer');
    return json(500, { statusCode: 500, code: 'INTERNAL', message: 'internal error' });
  }
}
