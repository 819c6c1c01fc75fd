/**
 * `berth healthcheck`: the image's HEALTHCHECK. A container runs one role, and which it is shows in
 * its environment: with BERTH_METRICS_PORT set (a worker, or `start`), the worker's /healthz there
 * (on BERTH_METRICS_HOST); else the API's on PORT. Healthy when it answers 200 within three
 * seconds. Checking one port, not either, keeps a neighbour on a shared (host) network from
 * answering for a dead process. Loaded on its own by cli.ts: the engine runs it every few seconds,
 * so it must start fast, without the server's modules.
 */
const TIMEOUT_MS = 3_000;

export async function healthcheck(env: NodeJS.ProcessEnv): Promise<number> {
  const worker = env['BERTH_METRICS_PORT'] !== undefined && env['BERTH_METRICS_PORT'] !== '';
  const port = worker ? env['BERTH_METRICS_PORT']! : env['PORT'] || '3000';
  const listening = worker ? env['BERTH_METRICS_HOST'] : env['HOST'];
  // A wildcard address is reached on loopback.
  const host = listening === undefined || ['', '0.0.0.0', '::'].includes(listening) ? '127.0.0.1' : listening;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (response.status === 200) return 0;
    process.stderr.write(`berth: unhealthy: ${url} answered ${response.status}\n`);
  } catch (error) {
    const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
    process.stderr.write(`berth: unhealthy: ${url}: ${reason}\n`);
  }
  return 1;
}
