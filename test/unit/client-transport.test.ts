/**
 * The SDK's retry policy and error mapping, on a scripted fetch (pure logic; the SDK against a
 * real Berth is test/integration/client-sdk.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError, isBerthError } from '../../src/client/berth-error.ts';
import { OPERATIONS } from '../../src/client/operations.ts';
import { createTransport, retryAfterMs, type FetchFunction } from '../../src/client/transport.ts';
import { waitUntil } from '../../src/client/waiting.ts';

type Step = Response | Error;

/** A fetch answering from `steps` in turn, recording each request. */
function scripted(steps: Step[]): { fetch: FetchFunction; calls: { url: string; init: RequestInit }[] } {
  const calls: { url: string; init: RequestInit }[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      calls.push({ url, init });
      const step = steps.shift();
      if (step === undefined) throw new Error('no more scripted answers');
      if (step instanceof Error) throw step;
      return step;
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const unavailable = (): Response => json(503, { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message: 'down' });
const refused = (): Error => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' } });

function transport(steps: Step[]) {
  const fake = scripted(steps);
  return { ...fake, transport: createTransport({ baseUrl: 'http://berth.test/', apiKey: 'k1', fetch: fake.fetch, baseDelayMs: 1 }) };
}

test('a read is retried after 503s and network errors, and sends the key and the query', async () => {
  const { transport: t, calls } = transport([unavailable(), refused(), json(200, { id: 'a' })]);
  const { status, body } = await t.json<{ id: string }>(OPERATIONS.getTask, { params: { id: 'a/b' }, query: { wait: 5, x: undefined }, idempotent: true });
  assert.equal(status, 200);
  assert.deepEqual(body, { id: 'a' });
  assert.equal(calls.length, 3);
  assert.equal(calls[0]!.url, 'http://berth.test/tasks/a%2Fb?wait=5');
  assert.equal((calls[0]!.init.headers as Headers).get('authorization'), 'Bearer k1');
});

test('a submission without an idempotency key is sent once, whatever happens', async () => {
  for (const failure of [unavailable(), refused()]) {
    const { transport: t, calls } = transport([failure, json(202, {})]);
    const error = await t.json(OPERATIONS.submitTask, { body: { runner: 'echo' }, idempotent: false }).catch((e: unknown) => e);
    assert.ok(error instanceof BerthError);
    assert.equal(error.code, failure instanceof Error ? 'NETWORK_ERROR' : 'DATABASE_UNAVAILABLE');
    assert.equal(calls.length, 1);
  }
});

test('a keyed submission is retried, with its key and body each time; a 4xx is not retried', async () => {
  const { transport: t, calls } = transport([refused(), json(202, { id: 't' })]);
  await t.json(OPERATIONS.submitTask, { body: { runner: 'echo' }, headers: { 'idempotency-key': 'K' }, idempotent: true });
  assert.equal(calls.length, 2);
  for (const call of calls) {
    assert.equal((call.init.headers as Headers).get('idempotency-key'), 'K');
    assert.equal(call.init.body, '{"runner":"echo"}');
  }
  const rejected = transport([json(400, { statusCode: 400, code: 'UNKNOWN_RUNNER', message: 'no runner', details: [{ path: 'body.runner', message: 'x' }] })]);
  const error = await rejected.transport.json(OPERATIONS.submitTask, { body: {}, idempotent: true }).catch((e: unknown) => e);
  assert.ok(isBerthError(error, 'UNKNOWN_RUNNER'));
  assert.equal(error.statusCode, 400);
  assert.deepEqual(error.details, [{ path: 'body.runner', message: 'x' }]);
  assert.equal(rejected.calls.length, 1);
});

test('retries stop after the allowed number, answering the last error', async () => {
  const fake = scripted([unavailable(), unavailable(), unavailable()]);
  const t = createTransport({ baseUrl: 'http://berth.test', fetch: fake.fetch, retries: 2, baseDelayMs: 1 });
  const error = await t.json(OPERATIONS.listRunners, { idempotent: true }).catch((e: unknown) => e);
  assert.ok(isBerthError(error, 'DATABASE_UNAVAILABLE'));
  assert.equal(fake.calls.length, 3);
});

test('Retry-After is honoured: a 429 asking for 300 ms is tried again no sooner', async () => {
  const { transport: t, calls } = transport([json(429, { statusCode: 429, code: 'RATE_LIMITED', message: 'slow' }, { 'retry-after': '0.3' }), json(200, [])]);
  const started = Date.now();
  await t.json(OPERATIONS.listRunners, { idempotent: true });
  assert.ok(Date.now() - started >= 290, `waited ${Date.now() - started} ms`);
  assert.equal(calls.length, 2);
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6000);
  assert.equal(retryAfterMs('soon'), undefined);
});

test('an answer that is not Berth\'s JSON is INVALID_RESPONSE with its status', async () => {
  const { transport: t } = transport([new Response('<html>proxy error</html>', { status: 500 }), new Response('{"cut', { status: 200 })]);
  const gateway = await t.json(OPERATIONS.listRunners, { idempotent: true }).catch((e: unknown) => e);
  assert.ok(isBerthError(gateway, 'INVALID_RESPONSE'));
  assert.equal(gateway.statusCode, 500);
  const cut = await t.json(OPERATIONS.listRunners, { idempotent: true }).catch((e: unknown) => e);
  assert.ok(isBerthError(cut, 'INVALID_RESPONSE'));
});

test('the caller\'s abort ends the backoff at once with its reason, not a BerthError', async () => {
  const fake = scripted([unavailable(), json(200, [])]);
  const t = createTransport({ baseUrl: 'http://berth.test', fetch: fake.fetch, baseDelayMs: 60_000, maxDelayMs: 60_000 });
  const controller = new AbortController();
  const pending = t.json(OPERATIONS.listRunners, { idempotent: true, signal: controller.signal });
  setTimeout(() => controller.abort(new Error('stop')), 20);
  await assert.rejects(pending, /stop/);
});

test('waitUntil renews the held read until final, and times out with the last state', async () => {
  const asked: number[] = [];
  const states = ['queued', 'running', 'succeeded'];
  const final = await waitUntil('task x', async (seconds) => { asked.push(seconds); return states.shift()!; }, (s) => s === 'succeeded', {});
  assert.equal(final, 'succeeded');
  assert.deepEqual(asked, [60, 60, 60]);
  const error = await waitUntil('task y', async (seconds) => {
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    return 'running';
  }, () => false, { timeout: 0.3 }).catch((e: unknown) => e);
  assert.ok(isBerthError(error, 'WAIT_TIMEOUT'));
  assert.equal(error.last, 'running');
  assert.match(error.message, /task y was not final/);
});

test('a 502 or 504 (a proxy before a restarting Berth) is retried like a 503', async () => {
  const gateway = (status: number): Response => new Response('<html>bad gateway</html>', { status });
  const { transport: t, calls } = transport([gateway(502), gateway(504), json(200, { id: 'a' })]);
  assert.deepEqual((await t.json(OPERATIONS.getTask, { params: { id: 'a' }, idempotent: true })).body, { id: 'a' });
  assert.equal(calls.length, 3);
});

test('a body cut off mid-way is NETWORK_ERROR, for JSON and for a streamed log', async () => {
  const cut = (): Response => new Response(new ReadableStream({ start(controller) { controller.error(new TypeError('terminated')); } }), { status: 200 });
  const { transport: t } = transport([cut()]);
  const error = await t.json(OPERATIONS.getTask, { params: { id: 'a' }, idempotent: true }).catch((e: unknown) => e);
  assert.ok(isBerthError(error, 'NETWORK_ERROR'), String(error));
  assert.match(error.message, /terminated/);
  const { tasksClient } = await import('../../src/client/tasks-client.ts');
  const { transport: logs } = transport([cut()]);
  const chunks = async (): Promise<string[]> => {
    const seen: string[] = [];
    for await (const chunk of tasksClient(logs).logs('a')) seen.push(chunk);
    return seen;
  };
  const streamError = await chunks().catch((e: unknown) => e);
  assert.ok(isBerthError(streamError, 'NETWORK_ERROR'), String(streamError));
});

test('a followed log that ends while the task still runs (the server shut down) is NETWORK_ERROR, not the end', async () => {
  const { tasksClient } = await import('../../src/client/tasks-client.ts');
  const follow = async (status: string): Promise<unknown> => {
    const { transport: t } = transport([new Response('line 1\n', { status: 200 }), json(200, { id: 'a', status })]);
    const seen: string[] = [];
    try {
      for await (const chunk of tasksClient(t).logs('a', { follow: true })) seen.push(chunk);
    } catch (error) {
      return { seen, error };
    }
    return { seen };
  };
  assert.deepEqual(await follow('succeeded'), { seen: ['line 1\n'] });
  const cut = await follow('running') as { seen: string[]; error: unknown };
  assert.deepEqual(cut.seen, ['line 1\n']);
  assert.ok(isBerthError(cut.error, 'NETWORK_ERROR'));
  assert.match(cut.error.message, /ended before task a did/);
});

test('retry options are checked: a retry count that is not a whole number would never stop', () => {
  for (const retries of [Number.NaN, Infinity, -1, 1.5]) {
    assert.throws(() => createTransport({ baseUrl: 'http://berth.test', retries }), /retries must be a whole number/);
  }
});

test('waitUntil rides out an outage (network errors, 503) until final, pauses after an early answer, and stops at other errors', async () => {
  const slept: number[] = [];
  const timing = { earlyAnswerPauseMs: 100, outageLimitMs: 60_000, sleep: async (ms: number) => { slept.push(ms); } };
  const network = new BerthError({ statusCode: 0, code: 'NETWORK_ERROR', message: 'ECONNREFUSED' });
  const restarting = new BerthError({ statusCode: 503, code: 'NOT_READY', message: 'shutting down' });
  const script: (string | BerthError)[] = ['running', network, restarting, 'succeeded'];
  const final = await waitUntil('task x', async () => {
    const step = script.shift()!;
    if (step instanceof BerthError) throw step;
    return step;
  }, (s) => s === 'succeeded', {}, undefined, timing);
  assert.equal(final, 'succeeded');
  assert.equal(slept.length, 3, `a pause after the early 'running' and after each failure: ${slept}`);
  const missing = new BerthError({ statusCode: 404, code: 'TASK_NOT_FOUND', message: 'no task' });
  const error = await waitUntil('task y', async () => { throw missing; }, () => false, {}, undefined, timing).catch((e: unknown) => e);
  assert.equal(error, missing);
  const endless = await waitUntil('task z', async () => { throw network; }, () => false, {}, undefined, { ...timing, outageLimitMs: 0 }).catch((e: unknown) => e);
  assert.equal(endless, network, 'an outage longer than the limit ends the wait with its error');
});

test('a caller\'s own Authorization header gives way to apiKey instead of being sent twice; an id of .. is refused', async () => {
  const fake = scripted([json(200, [])]);
  const t = createTransport({ baseUrl: 'http://berth.test', apiKey: 'k1', headers: { Authorization: 'Bearer old' }, fetch: fake.fetch });
  await t.json(OPERATIONS.listRunners, { idempotent: true });
  assert.equal((fake.calls[0]!.init.headers as Headers).get('authorization'), 'Bearer k1');
  await assert.rejects(t.json(OPERATIONS.getTask, { params: { id: '..' }, idempotent: true }), /'id' must not be '\.\.'/);
});
