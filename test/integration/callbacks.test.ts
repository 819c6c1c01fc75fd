/**
 * Outbound callbacks. Submission: a callbackUrl that would reach a loopback, private, link-local
 * or metadata address the fixture does not allow (it allows 127.0.0.1 only) is refused before
 * anything is queued. Delivery, for every engine under test: real `berth start` processes POST
 * each finished task to a real receiver on 127.0.0.1, signed per Standard Webhooks; the receiver
 * verifies every signature and scripts its answers (500 then 200, never answering, or no
 * listener at all), and the task's callbackDeliveries and the pg-boss callback job must agree
 * with what the receiver saw.
 */
import assert from 'node:assert/strict';
import { lookup as dnsLookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createCallbackCheck } from '../../src/callbacks/callback-check.ts';
import { createPool, type Pool } from '../../src/db.ts';
import { isAppError } from '../../src/errors.ts';
import { parseWebhookSecret, verifyStandardWebhook } from '../../src/webhook-signatures.ts';
import { spawnBerth, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { countQueued, FIXTURE_RUNNERS, startApiStack, type ApiStack } from '../helpers/stack.ts';
import { startReceiverHost } from '../helpers/receiver-host.ts';

const CALLBACK_KEY = parseWebhookSecret('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD');
/** The fixture's endpoint under /partner signs with a secret of its own. */
const PARTNER_KEY = parseWebhookSecret('whsec_cBthwHWPCLH4XRU+pTiOll7cU811i0Fb');

// Receivers are paths on one server, whose port the runners file's callbacks endpoints name.
const receivers = await startReceiverHost();
after(() => receivers.close());
let receiverCount = 0;
const FINAL_MS = 60_000;
// Four hanging attempts of 2 s and the configured 1 s delay with backoff (1-2, 2-4, 4-8 s) need
// about 25 s. The hang test is about other tasks, not the schedule (the dead-receiver test checks
// that), so its deadline also tolerates retries that wait for pg-boss's 30 s backstop poll.
const EXHAUSTED_MS = 150_000;
// Retries of the callback job: 1-2 s, 2-4 s, 4-8 s, each plus a worker poll of a few seconds.
const RETRY_SCHEDULE_MS = 30_000;

type Answer = number | 'hang';
interface Delivery {
  readonly webhookId: string;
  readonly signatureValid: boolean;
  readonly headers: http.IncomingHttpHeaders;
  readonly raw: Buffer;
  readonly body: Record<string, any> | undefined;
  readonly answer: Answer;
  readonly arrivedAt: number;
  closedAt: number | null;
}

interface Receiver {
  readonly url: string;
  readonly deliveries: Delivery[];
  of(taskId: string): Delivery[];
  until(what: string, done: () => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A callback receiver on 127.0.0.1; `answer` is told how many deliveries of this webhook-id came
 * before. Under `/partner…` it expects the partner endpoint's signature.
 */
async function startReceiver(answer: (previous: number) => Answer, prefix = '/receiver'): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const changed = new EventEmitter();
  const path = `${prefix}/r${receiverCount += 1}`;
  const key = prefix.startsWith('/partner') ? PARTNER_KEY : CALLBACK_KEY;
  const remove = receivers.route(path, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const header = (name: string) => request.headers[name] as string | undefined;
      const webhookId = header('webhook-id') ?? '';
      const signatureValid = verifyStandardWebhook(key, {
        id: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature'),
      }, raw, Math.floor(Date.now() / 1000)).ok;
      let body: Record<string, any> | undefined;
      try { body = JSON.parse(raw.toString('utf8')) as Record<string, any>; } catch { body = undefined; }
      const reply = signatureValid ? answer(deliveries.filter((d) => d.webhookId === webhookId).length) : 401;
      const delivery: Delivery = { webhookId, signatureValid, headers: request.headers, raw, body, answer: reply, arrivedAt: Date.now(), closedAt: null };
      deliveries.push(delivery);
      request.socket.once('close', () => { delivery.closedAt = Date.now(); changed.emit('change'); });
      if (reply !== 'hang') response.writeHead(reply, { 'content-type': 'text/plain' }).end(reply < 300 ? 'thanks' : 'try again');
      changed.emit('change');
    });
  });
  return {
    url: `${receivers.origin}${path}/berth-callback`,
    deliveries,
    of: (taskId) => deliveries.filter((d) => d.webhookId === `task_${taskId}`),
    until(what, done, timeoutMs = FINAL_MS) {
      return new Promise((resolve, reject) => {
        const check = () => { if (done()) { finish(); resolve(); } };
        const timer = setTimeout(() => { finish(); reject(new Error(`receiver: ${what} not within ${timeoutMs} ms`)); }, timeoutMs);
        const finish = () => { clearTimeout(timer); changed.off('change', check); };
        changed.on('change', check);
        check();
      });
    },
    close: async () => remove(),
  };
}

/** Polls `read` until `done` holds, failing the test at the deadline. */
async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = FINAL_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('callbackUrl at submission', () => {
  let stack: ApiStack;
  before(async () => { stack = await startApiStack(); });
  after(async () => { await stack?.close(); });

  const post = (url: string, body: unknown) =>
    stack.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });

  async function refused(url: string, body: unknown, path: string) {
    const before = await countQueued(stack.pool);
    const response = await post(url, body);
    assert.equal(response.statusCode, 400, `${JSON.stringify(body)} → ${response.body}`);
    assert.equal(response.json().code, 'VALIDATION_FAILED', response.body);
    assert.ok(response.json().details.some((d: { path: string }) => d.path === path), response.body);
    assert.deepEqual(await countQueued(stack.pool), before, `nothing may be queued for ${JSON.stringify(body)}`);
    return response.json();
  }

  test('loopback other than 127.0.0.1, private, link-local, metadata, unspecified and non-http URLs → 400, nothing queued', async () => {
    const urls = [
      'http://127.0.0.2/', 'http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data/', 'http://169.254.1.1/', 'http://[::1]/',
      'http://192.168.1.1:8080/x', 'http://172.16.0.1/', 'http://0.0.0.0:9/', 'http://[fe80::1]/', 'http://[fd00::1]/',
      // Spellings that WHATWG URL normalises to a refused address, and IPv4-mapped IPv6.
      'http://0x7f000002/', 'http://0177.0.0.2/', 'http://2130706434/', 'http://[::ffff:10.0.0.1]/', 'http://[::ffff:169.254.169.254]/',
      'ftp://127.0.0.1/x', 'file:///etc/passwd', 'http://user:pw@127.0.0.1/',
    ];
    for (const callbackUrl of urls) await refused('/tasks', { runner: 'echo', callbackUrl }, 'body/callbackUrl');
  });

  test('the allow-listed 127.0.0.1 under an endpoint is accepted and kept on the task', async () => {
    for (const callbackUrl of ['http://127.0.0.1:9/cb?x=1', 'http://127.0.0.1:9', `${receivers.origin}/partner/x`]) {
      const response = await post('/tasks', { runner: 'echo', callbackUrl });
      assert.equal(response.statusCode, 202, response.body);
      assert.equal(response.json().callbackUrl, callbackUrl);
      assert.deepEqual(response.json().callbackDeliveries, []);
    }
  });

  test('an allowed address under no endpoint → 400: endpoints are URLs (origin and path), each with its secret', async () => {
    // Another port, another spelling of the address (WHATWG keeps IPv4-mapped IPv6 as IPv6), a public host.
    for (const callbackUrl of ['http://127.0.0.1:10/cb', 'http://[::ffff:127.0.0.1]:9/cb', 'https://hooks.example.com/x', 'http://127.0.0.1:9/a/..%2F..%2Fb']) {
      const json = await refused('/tasks', { runner: 'echo', callbackUrl }, 'body/callbackUrl');
      if (callbackUrl.includes('%2F')) assert.match(json.message, /must not encode/);
      else if (!callbackUrl.startsWith('https')) assert.match(json.message, /under no callbacks endpoint/);
    }
    await refused('/workflows', { workflow: 'triage', input: { key: 'K-1' }, callbackUrl: 'http://127.0.0.1:10/cb' }, 'body/callbackUrl');
  });

  test('a batch with one refused callbackUrl → 400 naming its index, nothing queued', async () => {
    const tasks = [{ runner: 'echo', callbackUrl: 'http://127.0.0.1:9/ok' }, { runner: 'echo', callbackUrl: 'http://10.0.0.1/' }];
    await refused('/tasks/batch', { tasks }, '/tasks/1/callbackUrl');
    const accepted = await post('/tasks/batch', { tasks: [tasks[0], { runner: 'echo' }] });
    assert.equal(accepted.statusCode, 202, accepted.body);
    assert.deepEqual(accepted.json().tasks.map((t: { callbackUrl: string | null }) => t.callbackUrl), ['http://127.0.0.1:9/ok', null]);
  });

  test('a batch names every submission whose callbackUrl is refused, not only the first', async () => {
    const tasks = [
      { runner: 'echo', callbackUrl: 'http://10.0.0.1/' }, { runner: 'echo', callbackUrl: 'http://169.254.169.254/' },
      { runner: 'echo', callbackUrl: 'http://10.0.0.1/' }, { runner: 'echo', callbackUrl: 'http://127.0.0.1:9/ok' },
    ];
    const before = await countQueued(stack.pool);
    const response = await post('/tasks/batch', { tasks });
    assert.equal(response.statusCode, 400, response.body);
    assert.deepEqual(await countQueued(stack.pool), before);
    const paths = (response.json().details as { path: string }[]).map((d) => d.path).sort();
    assert.deepEqual(paths, ['/tasks/0/callbackUrl', '/tasks/1/callbackUrl', '/tasks/2/callbackUrl'], response.body);
  });

  test('localhost: accepted only when every address it resolves to is allowed (127.0.0.1 alone)', async () => {
    const addresses = (await dnsLookup('localhost', { all: true })).map((a) => a.address);
    const response = await post('/tasks', { runner: 'echo', callbackUrl: 'http://localhost:9/cb' });
    // The fixture's endpoints name 127.0.0.1, not localhost: refused either way, by address or by endpoint.
    assert.equal(response.statusCode, 400, `localhost → ${addresses.join(', ')}: ${response.body}`);
    assert.match(response.json().message, addresses.every((a) => a === '127.0.0.1') ? /under no callbacks endpoint/ : /::1|127\.0\.0\.[^1]/);
    // Dual-stack hosts (::1 localhost in /etc/hosts): ::1 is not allowed, so the URL is refused.
    // An endpoint for localhost:9, as an operator would write one.
    const settings = { ...stack.runners.callbacks!, endpoints: [{ url: 'http://localhost:9/', signingKey: CALLBACK_KEY }] };
    const check = createCallbackCheck(settings, async () => [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    await assert.rejects(check('http://localhost:9/cb', 'body/callbackUrl'),
      (error: unknown) => isAppError(error) && error.code === 'VALIDATION_FAILED' && /::1/.test(error.message));
    const v4only = createCallbackCheck(settings, async () => [{ address: '127.0.0.1', family: 4 }]);
    await v4only('http://localhost:9/cb', 'body/callbackUrl');
  });
});

for (const engineUnderTest of testEngines()) {
  describe(`callback delivery on ${engineUnderTest.name}`, () => {
    let database: TestDatabase;
    let pool: Pool;
    let berth: BerthProcess;
    let url: string;

    before(async () => {
      database = await createTestDatabase();
      pool = createPool(database.url, { max: 2 });
      // One task at a time: a callback held inside a task's slot would then visibly block the next task.
      berth = spawnBerth(['start', '--config', FIXTURE_RUNNERS], {
        DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_INSTANCE: database.name,
        BERTH_WORKER_CONCURRENCY: '1', ...receivers.env,
      });
      url = String((await berth.waitForLog('berth is listening'))['url']);
      await berth.waitForLog('worker started');
    });

    after(async () => {
      const code = await berth?.stop('SIGTERM');
      assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth?.output()}`);
      await pool?.end();
      await database?.drop();
    });

    async function submit(body: Record<string, unknown>): Promise<Record<string, any>> {
      const response = await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 202, await response.clone().text());
      return await response.json() as Record<string, any>;
    }

    const getTask = async (id: string) => await (await fetch(`${url}/tasks/${id}`)).json() as Record<string, any>;

    /** The state of a task's callback job once pg-boss has settled it (no retry left to come). */
    async function settledCallbackJob(taskId: string, timeoutMs = FINAL_MS): Promise<string> {
      const rows = await eventually(`callback job of ${taskId} settled`, async () => (await pool.query<{ state: string }>(
        `select state from pgboss.job where name = 'berth-callback' and data->>'taskId' = $1`, [taskId])).rows,
      (rows) => rows.length === 1 && ['completed', 'failed', 'cancelled'].includes(rows[0]!.state), timeoutMs);
      return rows[0]!.state;
    }

    test('a 500 is retried and the 200 recorded; every delivery is signed and carries the final task', async (t) => {
      const receiver = await startReceiver((previous) => (previous === 0 ? 500 : 200));
      t.after(() => receiver.close());
      const single = [
        await submit({ runner: 'echo', input: { n: 1, text: 'ünï' }, callbackUrl: receiver.url }),
        await submit({ runner: 'fail', callbackUrl: receiver.url }),
      ];
      const batch = await fetch(`${url}/tasks/batch`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ tasks: [0, 1].map((i) => ({ runner: 'echo', input: { batch: i }, callbackUrl: receiver.url })) }),
      });
      assert.equal(batch.status, 202, await batch.clone().text());
      const submitted = [...single, ...((await batch.json()) as { tasks: Record<string, any>[] }).tasks];

      for (const { id, input } of submitted) {
        const final = await waitForFinal(url, id);
        assert.equal(await settledCallbackJob(id), 'completed');
        const task = await getTask(id);
        assert.deepEqual(task['callbackDeliveries'].map((d: Record<string, unknown>) => [d['attempt'], d['statusCode'], d['error'] === null]),
          [[1, 500, false], [2, 200, true]], JSON.stringify(task['callbackDeliveries']));
        const seen = receiver.of(id);
        assert.equal(seen.length, 2, 'one failed and one successful delivery');
        assert.ok(seen.every((d) => d.signatureValid), 'every delivery verifies with the callbacks secret');
        assert.equal(seen.filter((d) => typeof d.answer === 'number' && d.answer < 300).length, 1, 'exactly one successful delivery');
        const delivered = seen[1]!;
        assert.equal(delivered.headers['content-type'], 'application/json');
        assert.equal(delivered.body?.['type'], `task.${final['status']}`);
        assert.equal(Date.parse(delivered.body?.['timestamp']) / 1000, Number(delivered.headers['webhook-timestamp']));
        assert.equal(delivered.body?.['data'].id, id);
        assert.equal(delivered.body?.['data'].status, final['status']);
        assert.deepEqual(delivered.body?.['data'].output, final['output']);
        assert.deepEqual(delivered.body?.['data'].input, input);
      }
      const [echo, failed] = submitted.map((s) => receiver.of(s['id'])[1]!.body!['data']);
      assert.equal(echo.status, 'succeeded');
      assert.deepEqual(echo.output, { n: 1, text: 'ünï' });
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error.code, 'nonzero_exit');
      assert.equal(failed.exitCode, 3);
      // The verification above is not vacuous: another key does not verify the same delivery.
      const sample = receiver.of(submitted[0]!['id'])[1]!;
      const otherKey = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
      assert.equal(verifyStandardWebhook(otherKey, {
        id: sample.webhookId, timestamp: String(sample.headers['webhook-timestamp']), signature: String(sample.headers['webhook-signature']),
      }, sample.raw, Number(sample.headers['webhook-timestamp'])).ok, false);
      assert.equal(receiver.deliveries.length, 2 * submitted.length, 'no delivery other than these');
    });

    test('a cancelled task, running or still queued, gets its callback with status cancelled', async (t) => {
      const receiver = await startReceiver(() => 200);
      t.after(() => receiver.close());
      const running = await submit({ runner: 'sleeper', callbackUrl: receiver.url });
      await waitForStatus(url, running['id'], 'running');
      const queued = await submit({ runner: 'echo', delay: 3600, callbackUrl: receiver.url });
      for (const task of [running, queued]) {
        const cancel = await fetch(`${url}/tasks/${task['id']}/cancel`, { method: 'POST' });
        assert.equal(cancel.status, 200, await cancel.clone().text());
        assert.equal(await settledCallbackJob(task['id']), 'completed');
        const [delivery, ...more] = receiver.of(task['id']);
        assert.deepEqual(more, [], 'one delivery');
        assert.ok(delivery?.signatureValid);
        assert.equal(delivery.body?.['type'], 'task.cancelled');
        assert.equal(delivery.body?.['data'].status, 'cancelled');
        assert.equal(delivery.body?.['data'].output, null);
        assert.deepEqual((await getTask(task['id']))['callbackDeliveries'].map((d: Record<string, unknown>) => d['statusCode']), [200]);
      }
      assert.equal(receiver.of(queued['id'])[0]!.body?.['data'].attempts, 0, 'the queued task never ran');
      // Once the worker has let go of the killed attempt, still exactly one callback for the running task.
      await berth.waitForLog('attempt ended after its task was cancelled or taken over; result discarded');
      const jobs = await pool.query(`select 1 from pgboss.job where name = 'berth-callback' and data->>'taskId' = $1`, [running['id']]);
      assert.equal(jobs.rowCount, 1, 'the worker settling the killed attempt must not schedule a second callback');
      assert.equal(receiver.of(running['id']).length, 1);
    });

    test('each endpoint signs with its own secret: under /partner the partner\'s, never the other', async (t) => {
      const partner = await startReceiver(() => 200, '/partner');
      t.after(() => partner.close());
      const task = await submit({ runner: 'echo', input: { to: 'partner' }, callbackUrl: partner.url });
      await partner.until('the partner\'s callback', () => partner.of(task['id']).length === 1);
      const [delivery] = partner.of(task['id']);
      assert.equal(delivery!.signatureValid, true, 'signed with the partner endpoint\'s secret');
      const headers = { id: delivery!.webhookId, timestamp: String(delivery!.headers['webhook-timestamp']), signature: String(delivery!.headers['webhook-signature']) };
      assert.equal(verifyStandardWebhook(CALLBACK_KEY, headers, delivery!.raw, Number(headers.timestamp)).ok, false,
        'the secret of the endpoint above it does not sign it');
    });

    test('a receiver that never answers holds no task: others run and finish meanwhile; it times out, is retried to the limit', async (t) => {
      const hanging = await startReceiver(() => 'hang');
      const answering = await startReceiver(() => 204);
      t.after(async () => { await hanging.close(); await answering.close(); });

      const stuck = await submit({ runner: 'echo', input: { stuck: true }, callbackUrl: hanging.url });
      await hanging.until('the first callback arrives', () => hanging.deliveries.length >= 1);
      const other = await submit({ runner: 'echo', input: { other: true }, callbackUrl: answering.url });
      const otherFinal = await waitForFinal(url, other['id']);
      assert.equal(otherFinal['status'], 'succeeded');
      assert.deepEqual(otherFinal['output'], { other: true });
      await answering.until('the other task\'s callback', () => answering.of(other['id']).length === 1);
      await hanging.until('Berth gives up on the first hanging delivery', () => hanging.deliveries[0]!.closedAt !== null);
      const hang = hanging.deliveries[0]!;
      assert.ok(Date.parse(otherFinal['startedAt']) < hang.closedAt!,
        `the other task started (${otherFinal['startedAt']}) while the callback hung (${new Date(hang.arrivedAt).toISOString()} to ${new Date(hang.closedAt!).toISOString()})`);
      assert.ok(hang.closedAt! - hang.arrivedAt >= 1_500, `the hanging delivery was held for the 2 s timeout, not ${hang.closedAt! - hang.arrivedAt} ms`);

      assert.equal(await settledCallbackJob(stuck['id'], EXHAUSTED_MS), 'failed');
      const deliveries = (await getTask(stuck['id']))['callbackDeliveries'] as Record<string, any>[];
      assert.deepEqual(deliveries.map((d) => d['attempt']), [1, 2, 3, 4], 'the first delivery and 3 retries');
      for (const d of deliveries) {
        assert.equal(d['statusCode'], null);
        assert.match(d['error'], /did not complete within 2000 ms/);
      }
      assert.equal(hanging.of(stuck['id']).length, 4);
      assert.ok(hanging.deliveries.every((d) => d.signatureValid));
      assert.equal((await getTask(stuck['id']))['status'], 'succeeded', 'a failed callback does not change the task');
    });

    test('a dead receiver (nothing listening) is retried up to the limit, every attempt recorded as an error', async () => {
      // The fixture's endpoint on port 9, where nothing listens.
      const deadUrl = 'http://127.0.0.1:9/dead';
      const task = await submit({ runner: 'echo', input: { dead: true }, callbackUrl: deadUrl });
      assert.equal((await waitForFinal(url, task['id']))['status'], 'succeeded');
      // The configured schedule (1 s delay, backoff) has all 4 attempts made well within this deadline.
      await eventually('the first delivery and its 3 retries, on the configured 1 s delay with backoff',
        async () => (await getTask(task['id']))['callbackDeliveries'] as Record<string, any>[], (d) => d.length >= 4, RETRY_SCHEDULE_MS + 15_000);
      assert.equal(await settledCallbackJob(task['id']), 'failed');
      const deliveries = (await getTask(task['id']))['callbackDeliveries'] as Record<string, any>[];
      assert.deepEqual(deliveries.map((d) => [d['attempt'], d['statusCode']]), [[1, null], [2, null], [3, null], [4, null]]);
      for (const d of deliveries) assert.match(d['error'], /ECONNREFUSED/);
      const span = Date.parse(deliveries[3]!['attemptedAt']) - Date.parse(deliveries[0]!['attemptedAt']);
      assert.ok(span <= RETRY_SCHEDULE_MS, `the 3 retries (delay 1s, backoff) took ${span} ms after the first attempt: `
        + `${deliveries.map((d) => d['attemptedAt']).join(', ')}`);
    });
  });
}
