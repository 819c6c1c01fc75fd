/**
 * When a failed attempt is tried again, and after how long. Pure: the worker asks, then acts.
 */
import type { RetryPolicy } from '../runners/runner.ts';
import type { TaskErrorCode } from './task-schemas.ts';

// A failure of the program or of the engine may pass; output the program got wrong will not, nor
// will memory the same program needs for the same input (oom): the runner's limit has to change.
const RETRYABLE: ReadonlySet<TaskErrorCode> = new Set(['nonzero_exit', 'timeout', 'engine_error']);
const MAX_DELAY_MS = 60 * 60 * 1000;

export function isRetryable(code: TaskErrorCode): boolean {
  return RETRYABLE.has(code);
}

/**
 * Delay before the retry that follows the `failures`-th failure (1-based). Exponential backoff
 * doubles the delay each time and spreads it over [½, 1½]× so retries of many tasks that failed
 * together do not return together; capped at an hour.
 */
export function retryDelayMs(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  if (policy.backoff === 'fixed') return policy.delayMs;
  const base = Math.min(MAX_DELAY_MS, policy.delayMs * 2 ** Math.min(failures - 1, 30));
  return Math.round(base * (0.5 + random()));
}
