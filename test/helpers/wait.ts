/**
 * Waiting in tests: on a condition, with a deadline, never a fixed sleep standing in for a signal.
 */
import assert from 'node:assert/strict';

/**
 * Polls `check` every `intervalMs` until it returns a value other than undefined; fails naming
 * `what` at the deadline. A check that is costly (a CLI run) takes a longer interval.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
