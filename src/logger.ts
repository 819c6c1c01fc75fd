/**
 * Logging for both processes: pino, JSON lines on stdout. Secrets never reach the log: request
 * authorization headers and webhook signatures are redacted, a `?token=` in a URL (Asterisk's
 * dialplan cannot send headers easily, so it may pass its token there) is masked, and container
 * env is never logged.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const TOKEN_IN_QUERY = /([?&]token=)[^&#]*/gi;

/** The URL as it may be logged: credentials in the query string masked. */
export function redactUrl(url: string): string {
  return url.replace(TOKEN_IN_QUERY, '$1[redacted]');
}

interface LoggedRequest {
  method?: string;
  url?: string;
  headers?: Record<string, unknown>;
  ip?: string;
  socket?: { remotePort?: number };
}

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-hub-signature"]', 'req.headers["webhook-signature"]', '*.env', 'env'],
      censor: '[redacted]',
    },
    serializers: {
      err: pino.stdSerializers.err,
      // Fastify logs the request under `req`; keep what helps (not the body) and mask the URL.
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: req.url === undefined ? undefined : redactUrl(req.url),
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  });
}
