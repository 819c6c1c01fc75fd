/**
 * API keys against a real database: every route but health, webhooks and the API's description
 * needs a key; a missing or unknown key is a 401 and a key without the scope a 403, with nothing
 * queued, read or changed; a key limited to some runners and workflows sees and starts only those.
 * Without keys, on loopback, requests addressed by another Host are refused (DNS rebinding).
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { countQueued, startApiStack, TEST_KEYS, type ApiStack } from '../helpers/stack.ts';

const AUTH_RUNNERS = fileURLToPath(new URL('../fixtures/auth-runners.yaml', import.meta.url));

let stack: ApiStack;
before(async () => { stack = await startApiStack({ runnersFile: AUTH_RUNNERS, listenHost: '0.0.0.0' }); });
after(async () => { await stack?.close(); });

type Method = 'GET' | 'POST';
const ID = '01900000-0000-7000-8000-000000000000';

function call(method: Method, url: string, key: string | undefined, body?: unknown) {
  return stack.app.inject({
    method, url,
    headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
  });
}

/** Every guarded route with the scope it needs and a request that would otherwise succeed or 404. */
const ROUTES: readonly { method: Method; url: string; scope: string; body?: unknown }[] = [
  { method: 'POST', url: '/tasks', scope: 'tasks:write', body: { runner: 'echo' } },
  { method: 'POST', url: '/tasks/batch', scope: 'tasks:write', body: { tasks: [{ runner: 'echo' }] } },
  { method: 'GET', url: '/tasks', scope: 'tasks:read' },
  { method: 'GET', url: `/tasks/${ID}`, scope: 'tasks:read' },
  { method: 'POST', url: `/tasks/${ID}/cancel`, scope: 'tasks:write' },
  { method: 'GET', url: `/tasks/${ID}/logs`, scope: 'tasks:read' },
  { method: 'POST', url: '/workflows', scope: 'tasks:write', body: { workflow: 'pipeline' } },
  { method: 'GET', url: '/workflows', scope: 'tasks:read' },
  { method: 'GET', url: `/workflows/${ID}`, scope: 'tasks:read' },
  { method: 'POST', url: `/workflows/${ID}/cancel`, scope: 'tasks:write' },
  { method: 'POST', url: `/workflows/${ID}/retry`, scope: 'tasks:write' },
  { method: 'GET', url: '/runners', scope: 'tasks:read' },
  { method: 'GET', url: '/runners/echo', scope: 'tasks:read' },
  { method: 'GET', url: '/schedules', scope: 'tasks:read' },
  { method: 'GET', url: '/schedules/echo-yearly', scope: 'tasks:read' },
  { method: 'POST', url: '/schedules/echo-yearly/pause', scope: 'admin' },
  { method: 'POST', url: '/schedules/echo-yearly/resume', scope: 'admin' },
  { method: 'POST', url: '/schedules/echo-yearly/trigger', scope: 'admin' },
  { method: 'GET', url: '/metrics', scope: 'admin' },
];

const KEYS_BY_SCOPE: Readonly<Record<string, readonly string[]>> = {
  'tasks:read': [TEST_KEYS.reader, TEST_KEYS.ops],
  'tasks:write': [TEST_KEYS.writer, TEST_KEYS.hooks, TEST_KEYS.ops],
  admin: [TEST_KEYS.ops],
};

async function assertRefused(response: Awaited<ReturnType<typeof call>>, status: number, code: string, queuedBefore: unknown) {
  assert.equal(response.statusCode, status, response.body);
  assert.equal(response.json().code, code);
  assert.equal(response.json().statusCode, status);
  assert.deepEqual(await countQueued(stack.pool), queuedBefore, 'nothing may be queued');
}

describe('a missing, malformed or unknown key', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.url}: 401 with WWW-Authenticate, nothing queued`, async () => {
      const queued = await countQueued(stack.pool);
      for (const authorization of [undefined, 'Basic b3BzOm9wcw==', 'Bearer', `Bearer ${TEST_KEYS.reader}x`, `Bearer ${TEST_KEYS.ops.slice(0, -1)}`]) {
        const response = await stack.app.inject({
          method: route.method, url: route.url,
          headers: { ...(authorization === undefined ? {} : { authorization }), ...(route.body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(route.body === undefined ? {} : { payload: JSON.stringify(route.body) }),
        });
        await assertRefused(response, 401, 'UNAUTHORIZED', queued);
        assert.equal(response.headers['www-authenticate'], 'Bearer realm="berth"');
      }
    });
  }

  test('a client still sending a large body reads its 401: the key is checked before the body, which is then drained', async () => {
    const url = await stack.app.listen({ port: 0, host: '127.0.0.1' });
    const body = JSON.stringify({ runner: 'echo', input: 'x'.repeat(900_000) });
    const response = await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(response.status, 401);
    assert.equal(((await response.json()) as { code: string }).code, 'UNAUTHORIZED');
  });

  test('an unknown route answers 401 before it answers 404: nothing is learnt without a key', async () => {
    assert.equal((await call('GET', '/nothing-here', undefined)).statusCode, 401);
    assert.equal((await call('GET', '/nothing-here', TEST_KEYS.reader)).statusCode, 404);
  });
});

describe('scopes', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.url} needs ${route.scope}: others get 403 and change nothing`, async () => {
      const allowed = KEYS_BY_SCOPE[route.scope]!;
      for (const key of Object.values(TEST_KEYS)) {
        if (allowed.includes(key) || key === TEST_KEYS.scanner) continue;
        const queued = await countQueued(stack.pool);
        const response = await call(route.method, route.url, key, route.body);
        await assertRefused(response, 403, 'FORBIDDEN', queued);
        assert.match(response.json().message, new RegExp(`lacks the scope ${route.scope}`));
      }
      for (const key of allowed) {
        const response = await call(route.method, route.url, key, route.body);
        assert.ok([200, 202, 404, 409].includes(response.statusCode), `${key}: ${response.statusCode} ${response.body}`);
      }
    });
  }

  test('a pause by a key without admin leaves the schedule running', async () => {
    await call('POST', '/schedules/echo-yearly/pause', TEST_KEYS.writer);
    const schedule = (await call('GET', '/schedules/echo-yearly', TEST_KEYS.reader)).json();
    assert.equal(schedule.paused, false);
  });
});

describe('public routes need no key', () => {
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs/static/index.html']) {
    test(url, async () => {
      const response = await call('GET', url, undefined);
      assert.notEqual(response.statusCode, 401, response.body);
      assert.notEqual(response.statusCode, 403, response.body);
    });
  }

  test('webhooks keep their own secrets: an unknown webhook is a 404, not a 401', async () => {
    const response = await call('POST', '/webhooks/none', undefined, {});
    assert.equal(response.statusCode, 404, response.body);
    assert.equal(response.json().code, 'WEBHOOK_NOT_FOUND');
  });
});

describe('a key limited to some runners and workflows', () => {
  const scanner = TEST_KEYS.scanner;

  test('submits to its runners only: another runner is a 403 naming the field, before it is looked up', async () => {
    assert.equal((await call('POST', '/tasks', scanner, { runner: 'scan-a' })).statusCode, 202);
    assert.equal((await call('POST', '/tasks', scanner, { runner: 'scan_b' })).statusCode, 202);
    for (const runner of ['echo', 'scanxb', 'no-such-runner']) {
      const queued = await countQueued(stack.pool);
      const response = await call('POST', '/tasks', scanner, { runner });
      await assertRefused(response, 403, 'FORBIDDEN', queued);
      assert.deepEqual(response.json().details.map((d: { path: string }) => d.path), ['/runner']);
    }
  });

  test('a batch with one runner beyond its reach queues nothing', async () => {
    const queued = await countQueued(stack.pool);
    const response = await call('POST', '/tasks/batch', scanner, { tasks: [{ runner: 'scan-a' }, { runner: 'echo' }] });
    await assertRefused(response, 403, 'FORBIDDEN', queued);
    assert.deepEqual(response.json().details.map((d: { path: string }) => d.path), ['/tasks/1/runner']);
  });

  test('sees only its runners\' tasks: others are missing from lists and read as 404', async () => {
    const echo = (await call('POST', '/tasks', TEST_KEYS.ops, { runner: 'echo' })).json();
    const lookalike = (await call('POST', '/tasks', TEST_KEYS.ops, { runner: 'scanxb' })).json();
    const own = (await call('POST', '/tasks', scanner, { runner: 'scan-a' })).json();
    const listed = (await call('GET', '/tasks?limit=200', scanner)).json().items.map((task: { id: string; runner: string }) => task);
    assert.ok(listed.some((task: { id: string }) => task.id === own.id));
    assert.deepEqual([...new Set(listed.map((task: { runner: string }) => task.runner))].sort(), ['scan-a', 'scan_b']);
    for (const other of [echo, lookalike]) {
      assert.equal((await call('GET', `/tasks/${other.id}`, scanner)).statusCode, 404);
      assert.equal((await call('GET', `/tasks/${other.id}?wait=1`, scanner)).statusCode, 404);
      assert.equal((await call('GET', `/tasks/${other.id}/logs`, scanner)).statusCode, 404);
      assert.equal((await call('GET', `/tasks/${other.id}/logs?follow=true`, scanner)).statusCode, 404);
      assert.equal((await call('POST', `/tasks/${other.id}/cancel`, scanner)).statusCode, 404);
      assert.equal((await call('GET', `/tasks/${other.id}`, TEST_KEYS.ops)).json().status, 'queued', 'a refused cancel changes nothing');
    }
    assert.equal((await call('GET', `/tasks/${own.id}`, scanner)).statusCode, 200);
    assert.equal((await call('POST', `/tasks/${own.id}/cancel`, scanner)).json().status, 'cancelled');
  });

  test('runners, workflows and schedules: only those within its reach', async () => {
    const runners = (await call('GET', '/runners', scanner)).json().map((runner: { name: string }) => runner.name);
    assert.deepEqual(runners.sort(), ['scan-a', 'scan_b']);
    assert.equal((await call('GET', '/runners/echo', scanner)).statusCode, 404);
    assert.equal((await call('GET', '/runners/scan-a', scanner)).statusCode, 200);

    const queued = await countQueued(stack.pool);
    await assertRefused(await call('POST', '/workflows', scanner, { workflow: 'pipeline' }), 403, 'FORBIDDEN', queued);
    const own = await call('POST', '/workflows', scanner, { workflow: 'scan-flow' });
    assert.equal(own.statusCode, 202, own.body);
    const other = (await call('POST', '/workflows', TEST_KEYS.ops, { workflow: 'pipeline' })).json();
    const runs = (await call('GET', '/workflows', scanner)).json().items.map((run: { workflow: string }) => run.workflow);
    assert.deepEqual([...new Set(runs)], ['scan-flow']);
    for (const url of [`/workflows/${other.id}`, `/workflows/${other.id}?wait=1`]) assert.equal((await call('GET', url, scanner)).statusCode, 404);
    assert.equal((await call('POST', `/workflows/${other.id}/cancel`, scanner)).statusCode, 404);
    assert.equal((await call('GET', `/workflows/${other.id}`, TEST_KEYS.ops)).json().status, 'running');

    // A step of a run beyond its reach is hidden though its runner is within: its input is the run's input and parents' outputs.
    const hidden = (await call('POST', '/workflows', TEST_KEYS.ops, { workflow: 'other-flow', input: { secret: 1 } })).json();
    const [hiddenStep] = hidden.steps[0].taskIds as string[];
    assert.deepEqual((await call('GET', `/tasks?workflowId=${hidden.id}`, scanner)).json().items, []);
    assert.ok(!(await call('GET', '/tasks?limit=500', scanner)).json().items.some((task: { id: string }) => task.id === hiddenStep));
    for (const [method, url] of [['GET', `/tasks/${hiddenStep}`], ['GET', `/tasks/${hiddenStep}/logs`], ['POST', `/tasks/${hiddenStep}/cancel`]] as const) {
      assert.equal((await call(method, url, scanner)).statusCode, 404, `${method} ${url}`);
    }
    assert.equal((await call('GET', `/tasks/${hiddenStep}`, TEST_KEYS.ops)).json().status, 'queued', 'the refused cancel changed nothing');
    const [ownStep] = own.json().steps[0].taskIds as string[];
    assert.equal((await call('GET', `/tasks/${ownStep}`, scanner)).statusCode, 200, 'a step of its own workflow, on its own runner');
    assert.deepEqual((await call('GET', `/tasks?workflowId=${own.json().id}`, scanner)).json().items.map((task: { id: string }) => task.id), [ownStep]);

    const schedules = (await call('GET', '/schedules', scanner)).json().items.map((schedule: { name: string }) => schedule.name);
    assert.deepEqual(schedules, ['scan-yearly']);
    assert.equal((await call('GET', '/schedules/echo-yearly', scanner)).statusCode, 404);
  });
});

describe('a key limited to some callback URLs', () => {
  test('gives only callbackUrls under them: another is a 403 naming the field, nothing queued; runner defaults are the operator\'s', async () => {
    const hooks = TEST_KEYS.hooks;
    for (const callbackUrl of ['http://127.0.0.1:9/ci', 'http://127.0.0.1:9/ci/build/7?x=1']) {
      const response = await call('POST', '/tasks', hooks, { runner: 'echo', callbackUrl });
      assert.equal(response.statusCode, 202, response.body);
    }
    for (const callbackUrl of ['http://127.0.0.1:9/cid', 'http://127.0.0.1:9/other', 'http://127.0.0.1:9/']) {
      const queued = await countQueued(stack.pool);
      const response = await call('POST', '/tasks', hooks, { runner: 'echo', callbackUrl });
      await assertRefused(response, 403, 'FORBIDDEN', queued);
      assert.deepEqual(response.json().details.map((d: { path: string }) => d.path), ['/callbackUrl']);
    }
    const queued = await countQueued(stack.pool);
    const batch = await call('POST', '/tasks/batch', hooks, { tasks: [{ runner: 'echo', callbackUrl: 'http://127.0.0.1:9/ci' }, { runner: 'echo', callbackUrl: 'http://127.0.0.1:9/x' }] });
    await assertRefused(batch, 403, 'FORBIDDEN', queued);
    assert.deepEqual(batch.json().details.map((d: { path: string }) => d.path), ['/tasks/1/callbackUrl']);
    await assertRefused(await call('POST', '/workflows', hooks, { workflow: 'pipeline', callbackUrl: 'http://127.0.0.1:9/x' }), 403, 'FORBIDDEN', queued);
    assert.equal((await call('POST', '/workflows', hooks, { workflow: 'pipeline', callbackUrl: 'http://127.0.0.1:9/ci/run' })).statusCode, 202);
    // An unlimited key may use any URL an endpoint covers.
    assert.equal((await call('POST', '/tasks', TEST_KEYS.writer, { runner: 'echo', callbackUrl: 'http://127.0.0.1:9/other' })).statusCode, 202);
  });
});

describe('without keys, on a loopback address', () => {
  let open: ApiStack;
  before(async () => { open = await startApiStack({ listenHost: '127.0.0.1' }); });
  after(async () => { await open?.close(); });

  test('requests addressed to a loopback name are served without a key', async () => {
    for (const host of ['localhost', 'localhost:3000', '127.0.0.1:3000', '[::1]:3000', 'app.localhost']) {
      const response = await open.app.inject({ method: 'GET', url: '/runners', headers: { host } });
      assert.equal(response.statusCode, 200, `${host}: ${response.body}`);
    }
  });

  test('requests addressed by any other name are refused: a page cannot reach Berth by DNS rebinding', async () => {
    const queued = await countQueued(open.pool);
    for (const host of ['evil.example', 'evil.example:3000', '127.0.0.1.evil.example', '10.0.0.1:3000', 'localhost.evil.example']) {
      const response = await open.app.inject({
        method: 'POST', url: '/tasks', headers: { host, 'content-type': 'application/json' }, payload: JSON.stringify({ runner: 'echo' }),
      });
      assert.equal(response.statusCode, 403, `${host}: ${response.body}`);
      assert.equal(response.json().code, 'FORBIDDEN');
    }
    assert.deepEqual(await countQueued(open.pool), queued);
    const health = await open.app.inject({ method: 'GET', url: '/healthz', headers: { host: 'evil.example' } });
    assert.equal(health.statusCode, 200);
  });

  test('a browser\'s request from another site is refused: a page cannot make its visitor trigger, cancel or submit', async () => {
    const queued = await countQueued(open.pool);
    const crossSite: Record<string, string>[] = [
      { origin: 'https://evil.example' }, { origin: 'null' }, { origin: 'http://localhost.evil.example:3000' },
      { 'sec-fetch-site': 'cross-site' }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    ];
    for (const headers of crossSite) {
      // A POST without a body (or text/plain) is a "simple" request: the browser sends it without a preflight.
      for (const [url, payload, type] of [['/schedules/nightly/trigger', undefined, undefined], ['/tasks', '{"runner":"echo"}', 'text/plain']] as const) {
        const response = await open.app.inject({
          method: 'POST', url, headers: { host: '127.0.0.1:3000', ...headers, ...(type === undefined ? {} : { 'content-type': type }) },
          ...(payload === undefined ? {} : { payload }),
        });
        assert.equal(response.statusCode, 403, `${JSON.stringify(headers)} ${url}: ${response.body}`);
        assert.match(response.json().message, /another site/);
      }
    }
    assert.deepEqual(await countQueued(open.pool), queued);
    // Its own pages (Swagger UI) and tools without Origin (curl) are served.
    for (const headers of [{ origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin' }, { origin: 'http://localhost:5173', 'sec-fetch-site': 'same-site' }, {}]) {
      const response = await open.app.inject({ method: 'GET', url: '/runners', headers: { host: '127.0.0.1:3000', ...headers } });
      assert.equal(response.statusCode, 200, `${JSON.stringify(headers)}: ${response.body}`);
    }
  });
});
