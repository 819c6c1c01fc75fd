/**
 * A reason Berth cannot start that the operator can act on, told in one sentence that says what
 * to do (e.g. "port 54329 is taken by …: set BERTH_EMBEDDED_PG_PORT to a free port"). The CLI prints
 * the message alone, without a stack trace; the underlying error stays in `cause`.
 */
export class StartupError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StartupError';
  }
}

/** The short form of an error for inside a sentence: "EACCES: permission denied, mkdir '/x'". */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
