import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isRetryable, retryDelayMs } from '../../src/tasks/retry-policy.ts';

test('the program\'s and the engine\'s failures are retried; wrong output is not', () => {
  assert.deepEqual(
    (['nonzero_exit', 'timeout', 'engine_error', 'invalid_output', 'output_too_large', 'oom'] as const).filter(isRetryable),
    ['nonzero_exit', 'timeout', 'engine_error'],
  );
});

test('fixed backoff always waits the delay', () => {
  const policy = { limit: 5, delayMs: 700, backoff: 'fixed' as const };
  assert.deepEqual([1, 2, 5].map((n) => retryDelayMs(policy, n, () => 0.9)), [700, 700, 700]);
});

test('exponential backoff doubles, with jitter over [0.5, 1.5)', () => {
  const policy = { limit: 5, delayMs: 1000, backoff: 'exponential' as const };
  assert.deepEqual([1, 2, 3].map((n) => retryDelayMs(policy, n, () => 0.5)), [1000, 2000, 4000]);
  assert.equal(retryDelayMs(policy, 3, () => 0), 2000);
  assert.equal(retryDelayMs(policy, 3, () => 0.999), 5996);
});

test('exponential backoff is capped at an hour (before jitter)', () => {
  const policy = { limit: 100, delayMs: 60_000, backoff: 'exponential' as const };
  assert.equal(retryDelayMs(policy, 60, () => 0.5), 3_600_000);
});
