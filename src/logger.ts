/**
 * Logging for both processes: pino, JSON lines on stdout. Secrets never reach the log: request
 * authorization headers and webhook signatures are redacted, and container env is never logged.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-hub-signature"]', 'req.headers["webhook-signature"]', '*.env', 'env'],
      censor: '[redacted]',
    },
  });
}
