/**
 * A runner, as the rest of Berth sees it once the YAML file has been validated and resolved:
 * durations in milliseconds, sizes in bytes, `${VAR}` references expanded, the input schema compiled.
 * Nothing here reads files or the environment; load-runners.ts produces these.
 */
import type { ErrorDetail } from '../errors.ts';

export type OutputMode = 'json' | 'text';

export interface RunnerLimits {
  /** Hard memory limit for the container, bytes. */
  readonly memoryBytes?: number;
  /** CPU quota, in units of 1e-9 CPUs (Docker's NanoCpus). */
  readonly nanoCpus?: number;
  /** Maximum number of processes in the container. */
  readonly pids?: number;
  /** Largest stdout accepted as the result, bytes; more fails the task with output_too_large. */
  readonly outputBytes: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt; 0 means none. */
  readonly limit: number;
  /** Delay before the first retry. */
  readonly delayMs: number;
  /** exponential: the delay doubles with each retry, with jitter; fixed: always delayMs. */
  readonly backoff: 'exponential' | 'fixed';
}

export interface Runner {
  readonly name: string;
  readonly image: string;
  /** argv; undefined means the image's own entrypoint/cmd. */
  readonly command: readonly string[] | undefined;
  /** Environment for the container, already expanded. Never shown over the API or logged. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** The JSON Schema as written in the config (shown by GET /runners), or undefined. */
  readonly inputSchema: Readonly<Record<string, unknown>> | undefined;
  readonly output: OutputMode;
  readonly network: string;
  readonly limits: RunnerLimits;
  readonly retries: RetryPolicy;
  /** Most tasks of this runner running at once across all workers; undefined: no limit. */
  readonly concurrency: number | undefined;
  /** Checks a task input against inputSchema; returns every violation (empty when valid). */
  readonly validateInput: (input: unknown) => readonly ErrorDetail[];
}

export interface RunnersConfig {
  readonly runners: ReadonlyMap<string, Runner>;
}
