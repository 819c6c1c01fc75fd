/**
 * Rate limits per API key and per webhook sender's address, kept in PostgreSQL so that every API
 * process draws on the same buckets: past a limit the answer is 429 RATE_LIMITED with Retry-After,
 * and nothing is queued.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createPool } from '../../src/db.ts';
import { createRateLimiter, parseRate } from '../../src/rate-limits.ts';
import { applyRetention } from '../../src/tasks/task-retention.ts';
import { countQueued, startApiStack, TEST_KEYS, type ApiStack } from '../helpers/stack.ts';

const RATE_RUNNERS = fileURLToPath(new URL('../fixtures/rate-runners.yaml', import.meta.url));

let stack: ApiStack;
before(async () => { stack = await startApiStack({ runnersFile: RATE_RUNNERS, listenHost: '0.0.0.0', rateLimits: true }); });
after(async () => { await stack?.close(); });

function call(method: 'GET' | 'POST', url: string, key: string | undefined, body?: unknown) {
  return stack.app.inject({
    method, url,
    headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

test('a key past its own rate gets 429 with Retry-After and queues nothing; other keys keep theirs', async () => {
  // writer: 2/m of its own.
  for (let i = 0; i < 2; i += 1) assert.equal((await call('POST', '/tasks', TEST_KEYS.writer, { runner: 'echo' })).statusCode, 202);
  const queued = await countQueued(stack.pool);
  const refused = await call('POST', '/tasks', TEST_KEYS.writer, { runner: 'echo' });
  assert.equal(refused.statusCode, 429, refused.body);
  assert.equal(refused.json().code, 'RATE_LIMITED');
  assert.match(refused.json().message, /^API key 'writer' is over its rate limit of 2\/m; try again in \d+ s$/);
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(retryAfter >= 25 && retryAfter <= 30, `a token of 2/m comes back within 30 s: Retry-After ${retryAfter}`);
  assert.deepEqual(await countQueued(stack.pool), queued);
  // reader: the file's default for keys, 4/m.
  for (let i = 0; i < 4; i += 1) assert.equal((await call('GET', '/tasks', TEST_KEYS.reader)).statusCode, 200);
  assert.equal((await call('GET', '/tasks', TEST_KEYS.reader)).statusCode, 429);
  // ops: rate none.
  for (let i = 0; i < 10; i += 1) assert.equal((await call('GET', '/runners', TEST_KEYS.ops)).statusCode, 200);
});

test('an unknown key is refused (401) without taking from any bucket', async () => {
  for (let i = 0; i < 10; i += 1) assert.equal((await call('GET', '/tasks', 'not-a-key-0123456789')).statusCode, 401);
  const { rows } = await stack.pool.query<{ bucket: string }>('select bucket from berth.rate_buckets order by bucket');
  assert.deepEqual(rows.map((r) => r.bucket).filter((b) => !b.startsWith('key:reader') && !b.startsWith('key:writer')), []);
});

test('the buckets are shared: another process (another pool, another limiter) finds the key\'s bucket empty', async () => {
  const pool = createPool(stack.database.url, { max: 1 });
  try {
    const other = createRateLimiter(pool);
    const wait = await other.take('key:writer', parseRate('2/m')!);
    assert.ok(wait !== null && wait > 0, 'empty for every process');
    assert.equal(await other.take('key:fresh', parseRate('2/m')!), null);
  } finally {
    await pool.end();
  }
});

test('webhooks: each sender address has its rate (3/m here), whichever webhook it calls', async () => {
  const deliver = (name: string, remoteAddress: string) => stack.app.inject({
    method: 'POST', url: `/webhooks/${name}`, headers: { 'content-type': 'application/json' }, payload: '{}', remoteAddress,
  });
  for (const name of ['a', 'b', 'c']) assert.equal((await deliver(name, '198.51.100.7')).statusCode, 404);
  const refused = await deliver('d', '198.51.100.7');
  assert.equal(refused.statusCode, 429, refused.body);
  assert.match(refused.json().message, /^address 198\.51\.100\.7 is over its rate limit of 3\/m/);
  assert.ok(Number(refused.headers['retry-after']) >= 1);
  assert.equal((await deliver('a', '198.51.100.8')).statusCode, 404, 'another address has its own bucket');
});

test('concurrent requests never take the same token twice: 20 at once from a bucket of 5 → 5 pass', async () => {
  const limiter = createRateLimiter(stack.pool);
  const rate = parseRate('5/h')!;
  const results = await Promise.all(Array.from({ length: 20 }, () => limiter.take('key:concurrent', rate)));
  assert.equal(results.filter((wait) => wait === null).length, 5);
});

test('retention forgets buckets idle for an hour (they are full again)', async () => {
  await stack.pool.query(`insert into berth.rate_buckets values ('key:idle', 0, now() - interval '2 hours'), ('key:recent', 0, now())`);
  const deleted = await applyRetention(stack.pool, 7 * 24 * 3600 * 1000);
  assert.ok(deleted.rateBuckets >= 1);
  const { rows } = await stack.pool.query<{ bucket: string }>(`select bucket from berth.rate_buckets where bucket in ('key:idle', 'key:recent')`);
  assert.deepEqual(rows.map((r) => r.bucket), ['key:recent']);
});
