/**
 * Waiting in tests: on a condition, with a deadline, never a fixed sleep standing in for a signal.
 */
import assert from 'node:assert/strict';

/** Polls `check` until it returns a value other than undefined; fails naming `what` at the deadline. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
