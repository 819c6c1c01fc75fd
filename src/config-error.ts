/**
 * The one error a configuration loader throws: every problem found in one source (a file, or the
 * process environment), so that a single failed start shows everything to fix. Problems are
 * `path: message` strings; the message repeats each one on its own line prefixed by the source,
 * like a compiler's `file: problem` output, so it reads well on a terminal and in a log.
 */
export class ConfigError extends Error {
  /** Where the configuration came from, e.g. the runners file's path. */
  readonly source: string;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[], options: { cause?: unknown } = {}) {
    super(
      problems.map((problem) => `${source}: ${problem}`).join('\n'),
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ConfigError';
    this.source = source;
    this.problems = Object.freeze([...problems]);
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return error instanceof ConfigError;
}
