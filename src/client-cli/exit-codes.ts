/**
 * What the client commands' exit codes mean, and the one sentence each failure gets. Below 64:
 * how a waited-for task or run ended; 64 and up: the BSD sysexits codes, so scripts can tell a
 * typo (64) from a refusal (65) from an outage (69).
 */
import { isBerthError, type BerthError } from '../client/index.ts';
import { RETRYABLE_STATUS } from '../client/transport.ts';

export const EXIT = {
  ok: 0, failed: 1, cancelled: 2, waitTimedOut: 3,
  usage: 64, refused: 65, noInput: 66, unavailable: 69, software: 70, noPermission: 77,
} as const;

/** Which status ends a waited-for task or run with which code. */
export function exitForStatus(status: string): number {
  if (status === 'succeeded') return EXIT.ok;
  if (status === 'cancelled') return EXIT.cancelled;
  return EXIT.failed;
}

/** A problem found on this side before or without asking Berth (a bad --input, an unreadable file). */
export class ClientCliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
    this.name = 'ClientCliError';
  }
}

export interface Failure {
  readonly exitCode: number;
  /** Lines for stderr, the first one sentence. */
  readonly lines: readonly string[];
}

/** The exit code and the words for an error from the SDK or from this side. */
export function describeFailure(error: unknown, baseUrl: string): Failure {
  if (error instanceof ClientCliError) return { exitCode: error.exitCode, lines: [error.message] };
  // A defect of this side: said in full, with its stack, rather than as exit 1 (which means "failed").
  if (!isBerthError(error)) return { exitCode: EXIT.software, lines: [`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`] };
  if (error.code === 'NETWORK_ERROR') {
    // undici's socket error sits two causes down (BerthError → TypeError "fetch failed" → the socket's).
    const socket = (error.cause as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    const reason = typeof socket === 'string' ? socket : error.message;
    return { exitCode: EXIT.unavailable, lines: [`cannot reach Berth at ${baseUrl} (${reason}); is it running, and is BERTH_URL right?`] };
  }
  // Details the message does not already spell out, a line each.
  const details = (error.details ?? []).map((detail) => `${detail.path}: ${detail.message}`).filter((text) => !error.message.includes(text));
  const lines = [sentence(error), ...details.map((text) => `  ${text}`)];
  return { exitCode: exitForApiError(error), lines };
}

function exitForApiError(error: BerthError): number {
  if (error.statusCode === 401 || error.statusCode === 403) return EXIT.noPermission;
  if (RETRYABLE_STATUS.has(error.statusCode)) return EXIT.unavailable;
  if (error.statusCode >= 400 && error.statusCode < 500) return EXIT.refused;
  return EXIT.software;
}

function sentence(error: BerthError): string {
  if (error.code === 'UNAUTHORIZED') return `${error.message} (set BERTH_API_KEY to a key of this Berth)`;
  return `${error.message} (${error.code})`;
}
