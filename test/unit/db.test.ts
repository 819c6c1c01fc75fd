import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDatabaseUnavailable, retryWhileUnavailable } from '../../src/db.ts';

test('connection failures count as the database being unavailable; query errors do not', () => {
  const unavailable = [
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
    Object.assign(new Error('connection failure'), { code: '08006' }),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
  ];
  for (const error of unavailable) assert.ok(isDatabaseUnavailable(error), error.message);
  const wrong = [Object.assign(new Error('syntax error'), { code: '42601' }), Object.assign(new Error('unique'), { code: '23505' }), new Error('boom'), null];
  for (const error of wrong) assert.ok(!isDatabaseUnavailable(error), String(error));
});

test('retryWhileUnavailable retries outages only', async () => {
  let calls = 0;
  const retried: unknown[] = [];
  const result = await retryWhileUnavailable(async () => {
    calls += 1;
    if (calls < 3) throw new Error('Connection terminated unexpectedly');
    return 'ok';
  }, 10_000, (error) => retried.push(error));
  assert.equal(result, 'ok');
  assert.equal(retried.length, 2);

  await assert.rejects(retryWhileUnavailable(async () => { throw Object.assign(new Error('bad'), { code: '42601' }); }, 10_000, () => assert.fail()), /bad/);
  await assert.rejects(retryWhileUnavailable(async () => { throw new Error('Connection terminated'); }, 0, () => undefined), /Connection terminated/);
});
