/**
 * Turning whatever dockerode or the engine threw into an EngineError with the right reason:
 * a connection that could not be made means the engine is unreachable; anything with an HTTP
 * status is the engine refusing.
 */
import { EngineError, type EngineErrorReason } from './container-engine.ts';

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
]);

export function toEngineError(error: unknown, reason: EngineErrorReason, action: string): EngineError {
  if (error instanceof EngineError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code) && statusOf(error) === undefined) {
    return new EngineError('unreachable', `${action}: container engine unreachable (${code})`, { cause: error });
  }
  return new EngineError(reason, `${action}: ${describe(error)}`, { cause: error });
}

export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

