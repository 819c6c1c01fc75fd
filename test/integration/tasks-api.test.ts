/**
 * The HTTP contract of /tasks and /runners against a real database: what is accepted is stored
 * with its job; what is rejected names the field and leaves nothing queued.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { countQueued, startApiStack, type ApiStack } from '../helpers/stack.ts';

let stack: ApiStack;
before(async () => { stack = await startApiStack({ bodyLimitBytes: 4096 }); });
after(async () => { await stack?.close(); });

function post(body: string, contentType = 'application/json') {
  return stack.app.inject({ method: 'POST', url: '/tasks', headers: { 'content-type': contentType }, payload: body });
}

async function assertRejected(body: string, status: number, code: string, contentType?: string) {
  const before = await countQueued(stack.pool);
  const response = await post(body, contentType);
  assert.equal(response.statusCode, status, response.body);
  const json = response.json();
  assert.equal(json.statusCode, status);
  assert.equal(json.code, code);
  assert.equal(typeof json.message, 'string');
  assert.deepEqual(await countQueued(stack.pool), before, 'nothing may be queued on a 4xx');
  return json;
}

describe('POST /tasks', () => {
  test('accepts a task: 202, Location, stored row and exactly one job', async () => {
    const before = await countQueued(stack.pool);
    const response = await post(JSON.stringify({ runner: 'echo', input: { hello: 'world' } }));
    assert.equal(response.statusCode, 202);
    const task = response.json();
    assert.match(task.id, /^[0-9a-f-]{36}$/);
    assert.equal(response.headers.location, `/tasks/${task.id}`);
    assert.equal(task.runner, 'echo');
    assert.equal(task.status, 'queued');
    assert.ok(!Number.isNaN(Date.parse(task.createdAt)));
    assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 1, jobs: before.jobs + 1 });
    const { rows } = await stack.pool.query(`select data from pgboss.job where name = 'berth-run-task' and data->>'taskId' = $1`, [task.id]);
    assert.deepEqual(rows.map((r) => r.data), [{ taskId: task.id }]);
  });

  test('input defaults to null', async () => {
    const response = await post(JSON.stringify({ runner: 'echo' }));
    assert.equal(response.statusCode, 202);
    assert.equal(response.json().input, null);
  });

  test('concurrent submissions share transactions; each is answered with its own stored task and job', async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => ({ n: i, text: `quote " backslash \\ brace {,} ${i}`, unicode: 'ä€😀' }));
    const responses = await Promise.all(inputs.map((input) => post(JSON.stringify({ runner: 'echo', input }))));
    const tasks = responses.map((response) => {
      assert.equal(response.statusCode, 202, response.body);
      return response.json();
    });
    tasks.forEach((task, i) => assert.deepEqual(task.input, inputs[i]));
    const ids: string[] = tasks.map((task) => task.id);
    assert.equal(new Set(ids).size, ids.length);
    const { rows } = await stack.pool.query<{ id: string; input: string; tx: string; jobs: number }>(
      `select t.id, t.input::text as input, t.xmin::text as tx,
              (select count(*)::int from pgboss.job j where j.name = 'berth-run-task' and j.data->>'taskId' = t.id::text) as jobs
         from berth.tasks t where t.id = any($1::uuid[])`,
      [ids],
    );
    assert.equal(rows.length, ids.length);
    for (const row of rows) {
      assert.equal(row.jobs, 1, `task ${row.id} has exactly one job`);
      assert.equal(row.input, JSON.stringify(inputs[ids.indexOf(row.id)]), 'the input is stored as submitted');
    }
    assert.ok(new Set(rows.map((row) => row.tx)).size < ids.length, 'some submissions were committed in one transaction');
  });

  test('unknown runner → 400 naming it', async () => {
    const json = await assertRejected(JSON.stringify({ runner: 'no-such-runner', input: {} }), 400, 'UNKNOWN_RUNNER');
    assert.match(json.message, /no-such-runner/);
  });

  test('input violating input_schema → 400 listing every violation with its path', async () => {
    const json = await assertRejected(JSON.stringify({ runner: 'validated', input: { name: 5, count: 0 } }), 400, 'INPUT_INVALID');
    const paths = json.details.map((d: { path: string }) => d.path).sort();
    assert.deepEqual(paths, ['/input/count', '/input/name']);
    assert.match(json.message, /\/input\/name/);
    assert.match(json.message, /\/input\/count/);
  });

  test('missing required input property is reported at its parent path', async () => {
    const json = await assertRejected(JSON.stringify({ runner: 'validated', input: { name: 'x' } }), 400, 'INPUT_INVALID');
    assert.equal(json.details.length, 1);
    assert.equal(json.details[0].path, '/input');
    assert.match(json.details[0].message, /count/);
  });

  test('unknown top-level field → 400 naming it, never silently dropped', async () => {
    const json = await assertRejected(JSON.stringify({ runner: 'echo', input: {}, priorty: 5 }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(json.details, [{ path: 'body/priorty', message: 'unknown field' }]);
  });

  test('missing runner → 400 naming the field', async () => {
    const json = await assertRejected(JSON.stringify({ input: {} }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(json.details, [{ path: 'body/runner', message: 'is required' }]);
  });

  test('runner of the wrong type is not coerced', async () => {
    const json = await assertRejected(JSON.stringify({ runner: 5 }), 400, 'VALIDATION_FAILED');
    assert.equal(json.details[0].path, 'body/runner');
  });

  test('a body that is not an object → 400', async () => {
    await assertRejected(JSON.stringify(['echo']), 400, 'VALIDATION_FAILED');
  });

  test('malformed JSON → 400 MALFORMED_JSON', async () => {
    await assertRejected('{"runner": "echo", "input": ', 400, 'MALFORMED_JSON');
  });

  test('empty JSON body → 400 MALFORMED_JSON', async () => {
    await assertRejected('', 400, 'MALFORMED_JSON');
  });

  test('body over the limit → 413', async () => {
    await assertRejected(JSON.stringify({ runner: 'echo', input: 'x'.repeat(5000) }), 413, 'BODY_TOO_LARGE');
  });

  test('unsupported content type → 415', async () => {
    await assertRejected('runner=echo', 415, 'UNSUPPORTED_MEDIA_TYPE', 'application/x-www-form-urlencoded');
  });
});

describe('GET /tasks/{id}', () => {
  test('returns every field of a queued task', async () => {
    const created = (await post(JSON.stringify({ runner: 'echo', input: { b: 1, a: [true, null] } }))).json();
    const response = await stack.app.inject({ method: 'GET', url: `/tasks/${created.id}` });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      id: created.id, runner: 'echo', status: 'queued', input: { b: 1, a: [true, null] }, output: null, error: null,
      exitCode: null, attempts: 0, maxAttempts: 1, priority: 0, createdAt: created.createdAt, runAfter: null,
      nextAttemptAt: null, startedAt: null, finishedAt: null, attemptHistory: [], callbackUrl: null, callbackDeliveries: [],
      workflowId: null, stepId: null, schedule: null, scheduledFor: null, traceparent: null,
    });
  });

  test('unknown id → 404 TASK_NOT_FOUND', async () => {
    const response = await stack.app.inject({ method: 'GET', url: '/tasks/0190a7a8-0000-7000-8000-000000000000' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().code, 'TASK_NOT_FOUND');
  });

  test('malformed id → 404, not a database error', async () => {
    for (const id of ['not-a-uuid', '1', "x'; drop table berth.tasks; --"]) {
      const response = await stack.app.inject({ method: 'GET', url: `/tasks/${encodeURIComponent(id)}` });
      assert.equal(response.statusCode, 404, id);
      assert.equal(response.json().code, 'TASK_NOT_FOUND');
    }
  });

  test('logs of a task that has not run are empty text', async () => {
    const created = (await post(JSON.stringify({ runner: 'echo', input: 1 }))).json();
    const response = await stack.app.inject({ method: 'GET', url: `/tasks/${created.id}/logs` });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.equal(response.body, '');
    const missing = await stack.app.inject({ method: 'GET', url: '/tasks/nope/logs' });
    assert.equal(missing.statusCode, 404);
  });
});

describe('runners, health, docs', () => {
  test('GET /runners lists runners without env', async () => {
    const response = await stack.app.inject({ method: 'GET', url: '/runners' });
    assert.equal(response.statusCode, 200);
    const runners = response.json();
    assert.deepEqual(runners.map((r: { name: string }) => r.name).sort(), [...stack.runners.runners.keys()].sort());
    assert.ok(!response.body.includes('hi from env'), 'env values must never be shown');
    const validated = runners.find((r: { name: string }) => r.name === 'validated');
    assert.equal(validated.input_schema.type, 'object');
  });

  test('GET /runners/{name}', async () => {
    const response = await stack.app.inject({ method: 'GET', url: '/runners/slow' });
    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), { name: 'slow', image: 'berth-test/busybox:1', timeout: 1, output: 'json', input_schema: null });
    const env = await stack.app.inject({ method: 'GET', url: '/runners/env' });
    assert.deepEqual(Object.keys(env.json()).sort(), ['image', 'input_schema', 'name', 'output', 'timeout']);
    const missing = await stack.app.inject({ method: 'GET', url: '/runners/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'RUNNER_NOT_FOUND');
  });

  test('healthz and readyz', async () => {
    assert.deepEqual((await stack.app.inject({ method: 'GET', url: '/healthz' })).json(), { status: 'ok' });
    const ready = await stack.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200, ready.body);
  });

  test('unknown route → 404 in the error shape', async () => {
    const response = await stack.app.inject({ method: 'GET', url: '/nope' });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().code, 'ROUTE_NOT_FOUND');
  });

  test('Swagger UI at /docs and the OpenAPI document at /openapi.json', async () => {
    const docs = await stack.app.inject({ method: 'GET', url: '/docs/' });
    assert.equal(docs.statusCode, 200);
    assert.match(docs.body, /swagger/i);
    const spec = (await stack.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    assert.equal(spec.openapi, '3.0.3');
    assert.ok(spec.paths['/tasks'].post);
    assert.ok(spec.paths['/tasks/{id}'].get);
    for (const [path, method] of [['/workflows', 'post'], ['/workflows', 'get'], ['/workflows/{id}', 'get'],
      ['/workflows/{id}/cancel', 'post'], ['/workflows/{id}/retry', 'post'], ['/schedules', 'get'], ['/schedules/{name}', 'get'],
      ['/schedules/{name}/pause', 'post'], ['/schedules/{name}/resume', 'post'], ['/schedules/{name}/trigger', 'post']] as const) {
      assert.ok(spec.paths[path]?.[method], `${method} ${path} is in the OpenAPI document`);
    }
    for (const tag of ['workflows', 'schedules']) {
      assert.ok(spec.tags.some((t: { name: string }) => t.name === tag), `Swagger UI groups the ${tag} routes`);
    }
  });
});

describe('POST /tasks/batch', () => {
  function postBatch(body: unknown) {
    return stack.app.inject({ method: 'POST', url: '/tasks/batch', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  }

  test('stores every task and its job in one go', async () => {
    const before = await countQueued(stack.pool);
    const response = await postBatch({ tasks: [{ runner: 'echo', input: 1 }, { runner: 'validated', input: { name: 'n', count: 2 }, priority: 5 }, { runner: 'echo', delay: 30 }] });
    assert.equal(response.statusCode, 202, response.body);
    const { tasks } = response.json();
    assert.deepEqual(tasks.map((t: { runner: string; status: string }) => [t.runner, t.status]), [['echo', 'queued'], ['validated', 'queued'], ['echo', 'queued']]);
    assert.equal(tasks[1].priority, 5);
    assert.notEqual(tasks[2].runAfter, null);
    assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 3, jobs: before.jobs + 3 });
    const { rows } = await stack.pool.query(`select priority, start_after > now() + interval '20 seconds' as later from pgboss.job where data->>'taskId' = any($1) order by priority`, [tasks.map((t: { id: string }) => t.id)]);
    assert.deepEqual(rows.map((r) => [r.priority, r.later]), [[0, false], [0, true], [5, false]]);
    const stored = await stack.app.inject({ method: 'GET', url: `/tasks/${tasks[0].id}` });
    assert.deepEqual(stored.json(), tasks[0]);
  });

  test('one invalid submission rejects the whole batch, naming each problem by index', async () => {
    const before = await countQueued(stack.pool);
    const response = await postBatch({ tasks: [{ runner: 'echo' }, { runner: 'nope' }, { runner: 'validated', input: { name: 1, count: 1 } }] });
    assert.equal(response.statusCode, 400);
    const json = response.json();
    assert.equal(json.code, 'VALIDATION_FAILED');
    assert.deepEqual(json.details.map((d: { path: string }) => d.path), ['/tasks/1/runner', '/tasks/2/input/name']);
    assert.deepEqual(await countQueued(stack.pool), before);
  });

  test('each task of a batch obeys the single-submission limit, though the batch may be larger', async () => {
    // This stack's body limit is 4096 bytes; the batch's is 16 times that.
    const before = await countQueued(stack.pool);
    const big = { runner: 'echo', input: 'x'.repeat(4_100) };
    const refused = await postBatch({ tasks: [{ runner: 'echo' }, big, { runner: 'echo' }, big] });
    assert.equal(refused.statusCode, 413, refused.body);
    assert.equal(refused.json().code, 'BODY_TOO_LARGE');
    assert.deepEqual(refused.json().details.map((d: { path: string }) => d.path), ['/tasks/1', '/tasks/3']);
    assert.match(refused.json().details[0].message, /^is 4\d{3} bytes as JSON, more than one submission may be \(BERTH_BODY_LIMIT, 4096 bytes\)$/);
    assert.deepEqual(await countQueued(stack.pool), before);
    const many = Array.from({ length: 10 }, () => ({ runner: 'echo', input: 'x'.repeat(1_000) }));
    assert.equal((await postBatch({ tasks: many })).statusCode, 202);
  });

  test('shape errors name the item; empty and oversized batches are refused', async () => {
    const before = await countQueued(stack.pool);
    const shape = await postBatch({ tasks: [{ runner: 'echo' }, { runner: 'echo', extra: 1 }] });
    assert.equal(shape.statusCode, 400);
    assert.deepEqual(shape.json().details, [{ path: 'body/tasks/1/extra', message: 'unknown field' }]);
    assert.equal((await postBatch({ tasks: [] })).statusCode, 400);
    assert.equal((await postBatch({ tasks: Array.from({ length: 1001 }, () => ({ runner: 'echo' })) })).statusCode, 400);
    assert.deepEqual(await countQueued(stack.pool), before);
  });
});

describe('default callbacks', () => {
  test('a runner\'s callback is the default callbackUrl of its tasks; one given on submission wins', async () => {
    const byDefault = await post(JSON.stringify({ runner: 'validated', input: { name: 'n', count: 1 } }));
    assert.equal(byDefault.statusCode, 202, byDefault.body);
    assert.equal(byDefault.json().callbackUrl, 'http://127.0.0.1:9/runner-default');
    const given = await post(JSON.stringify({ runner: 'validated', input: { name: 'n', count: 1 }, callbackUrl: 'http://127.0.0.1:9/given' }));
    assert.equal(given.json().callbackUrl, 'http://127.0.0.1:9/given');
    assert.equal((await post(JSON.stringify({ runner: 'echo' }))).json().callbackUrl, null);
  });
});
