/**
 * The one error the SDK throws: the API's `{statusCode, code, message, details}` as it came, or
 * one of the client's own codes for what never got an answer from Berth. Callers branch on `code`
 * (errorCatalog's codes, stable across versions), never on the message.
 */
import type { ErrorCode, ErrorDetail } from '../errors.ts';

/** Codes the client itself raises; statusCode is 0 when no HTTP answer came. */
export type ClientErrorCode =
  | 'NETWORK_ERROR'     // no answer: refused, reset, DNS; after the retries allowed
  | 'INVALID_RESPONSE'  // an answer that is not Berth's JSON (a proxy's error page, a cut body)
  | 'WAIT_TIMEOUT';     // wait()/run(): the timeout passed before the task or run was final

/** A newer Berth may answer a code this client does not list yet; it still arrives as sent. */
export type BerthErrorCode = ErrorCode | ClientErrorCode | (string & {});

export class BerthError extends Error {
  readonly statusCode: number;
  readonly code: BerthErrorCode;
  readonly details: readonly ErrorDetail[] | undefined;
  /** WAIT_TIMEOUT: the task or run as last seen, not final. */
  readonly last: unknown;

  constructor(
    fields: { statusCode: number; code: BerthErrorCode; message: string; details?: readonly ErrorDetail[] | undefined; last?: unknown },
    options?: { cause?: unknown },
  ) {
    super(fields.message, options);
    this.name = 'BerthError';
    this.statusCode = fields.statusCode;
    this.code = fields.code;
    this.details = fields.details;
    this.last = fields.last;
  }
}

export function isBerthError(error: unknown, code?: BerthErrorCode): error is BerthError {
  return error instanceof BerthError && (code === undefined || error.code === code);
}
