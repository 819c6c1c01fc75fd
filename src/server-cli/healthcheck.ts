/**
 * `berth healthcheck`: the image's HEALTHCHECK. Healthy when this container's API (PORT) or its
 * worker's metrics port (BERTH_METRICS_PORT) answers GET /healthz with 200 within three seconds.
 * Loaded on its own by cli.ts: the engine runs it every few seconds, so it must start fast, without
 * the server's modules.
 */
const TIMEOUT_MS = 3_000;

export async function healthcheck(env: NodeJS.ProcessEnv): Promise<number> {
  const host = env['HOST'] === undefined || ['', '0.0.0.0', '::'].includes(env['HOST']) ? '127.0.0.1' : env['HOST'];
  const ports = [env['PORT'] || '3000', env['BERTH_METRICS_PORT']].filter((port): port is string => port !== undefined && port !== '' && port !== '0');
  const problems: string[] = [];
  for (const port of ports) {
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/healthz`;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (response.status === 200) return 0;
      problems.push(`${url} answered ${response.status}`);
    } catch (error) {
      problems.push(`${url}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
    }
  }
  process.stderr.write(`berth: unhealthy: ${problems.join('; ')}\n`);
  return 1;
}
