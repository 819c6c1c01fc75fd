/**
 * The error catalog: every error Berth answers with has a stable code and one HTTP status.
 * Clients (and the SDK) branch on `code`, never on message text. The API's error handler is the
 * only place that turns these into responses; everything else throws them.
 */
import { Type, type Static } from 'typebox';

export const errorCatalog = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  UNKNOWN_RUNNER: 400,
  UNKNOWN_WORKFLOW: 400,
  INPUT_INVALID: 400,
  MALFORMED_PAYLOAD: 400,
  MALFORMED_URL: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  ROUTE_NOT_FOUND: 404,
  WEBHOOK_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  RUNNER_NOT_FOUND: 404,
  WORKFLOW_RUN_NOT_FOUND: 404,
  SCHEDULE_NOT_FOUND: 404,
  TASK_FINISHED: 409,
  WORKFLOW_RUN_FINISHED: 409,
  WORKFLOW_RUN_NOT_FAILED: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  SCHEDULE_REFUSED: 409,
  BODY_TOO_LARGE: 413,
  URL_SEGMENT_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TOO_MANY_HELD: 503,
  NOT_READY: 503,
  DATABASE_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorCatalog;

/** One problem in a request or a config file, located by a path into it. */
export const ErrorDetail = Type.Object({
  path: Type.String({ description: 'JSON path of the offending value, e.g. /input/name or body.runner' }),
  message: Type.String(),
});
export type ErrorDetail = Static<typeof ErrorDetail>;

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    message: Type.String(),
    details: Type.Optional(Type.Array(ErrorDetail)),
  },
  { $id: 'ErrorResponse', additionalProperties: false },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly details: readonly ErrorDetail[] | undefined;
  /** Sent as Retry-After: when trying again may succeed (a 429, a 503 for load). */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: { details?: readonly ErrorDetail[]; cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = errorCatalog[code];
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
