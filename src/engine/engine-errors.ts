/**
 * Turning whatever dockerode or the engine threw into an EngineError with the right reason:
 * a connection that could not be made means the engine is unreachable; anything with an HTTP
 * status is the engine refusing.
 */
import { EngineError, type EngineErrorReason } from './container-engine.ts';

/** A connection that could not be made: the request never reached the engine. */
export const CONNECTION_FAILED_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ENOENT', 'EACCES', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
]);

/** A connection that failed, before or during the request. */
const CONNECTION_ERROR_CODES = new Set([...CONNECTION_FAILED_CODES, 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

export function toEngineError(error: unknown, reason: EngineErrorReason, action: string): EngineError {
  if (error instanceof EngineError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code) && statusOf(error) === undefined) {
    return new EngineError('unreachable', `${action}: container engine unreachable (${code})`, { cause: error });
  }
  return new EngineError(reason, `${action}: ${describe(error)}`, { cause: error });
}

/**
 * Whether a failed request may still have been carried out: the engine answered nothing (timed
 * out, connection cut mid-way), yet the request may have reached it.
 */
export function mayHaveReachedEngine(error: unknown): boolean {
  if (statusOf(error) !== undefined) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return !(typeof code === 'string' && CONNECTION_FAILED_CODES.has(code));
}

export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

