/**
 * The SDK (berth/client) against a real Berth (`berth start` in a child process) on each engine
 * under test: every client the SDK offers is called for real and its answers checked, including
 * the errors a caller branches on.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient, isBerthError, type BerthClient, type BerthError } from '../../src/client/index.ts';
import { startClientBerth, type ClientBerth } from '../helpers/client-berth.ts';
import { testEngines } from '../helpers/engines.ts';
import { freePort } from '../helpers/private-postgres.ts';
import { until } from '../helpers/wait.ts';

/** The error `promise` rejects with, which must be a BerthError. */
async function rejection(promise: Promise<unknown>): Promise<BerthError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isBerthError(error), `expected a BerthError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

for (const engine of testEngines()) {
  describe(`the SDK against Berth on ${engine.name}`, () => {
    let berth: ClientBerth;
    let client: BerthClient;

    before(async () => {
      berth = await startClientBerth(engine);
      client = createClient({ baseUrl: berth.url, apiKey: berth.adminKey });
    });
    after(() => berth?.close());

    test('tasks.run submits and returns the final task', async () => {
      const task = await client.tasks.run('echo', { hello: 'sdk' }, { timeout: 60 });
      assert.equal(task.status, 'succeeded', JSON.stringify(task));
      assert.deepEqual(task.output, { hello: 'sdk' });
      const failed = await client.tasks.run('fail', null, { timeout: 60 });
      assert.equal(failed.status, 'failed');
      assert.equal(failed.error?.code, 'nonzero_exit');
    });

    test('tasks.submit answers queued; tasks.wait and tasks.get see it final', async () => {
      const submitted = await client.tasks.submit('echo', [1, 2, 3], { priority: 5 });
      assert.equal(submitted.runner, 'echo');
      assert.equal(submitted.priority, 5);
      const done = await client.tasks.wait(submitted.id, { timeout: 60 });
      assert.equal(done.status, 'succeeded');
      assert.deepEqual(done.output, [1, 2, 3]);
      assert.deepEqual(await client.tasks.get(submitted.id), done);
    });

    test('a keyed submission replays the first task; the same key with another body is refused', async () => {
      const key = `sdk-${randomBytes(6).toString('hex')}`;
      const first = await client.tasks.submit('echo', { n: 1 }, { idempotencyKey: key });
      const again = await client.tasks.submit('echo', { n: 1 }, { idempotencyKey: key });
      assert.equal(again.id, first.id);
      const reused = await rejection(client.tasks.submit('echo', { n: 2 }, { idempotencyKey: key }));
      assert.equal(reused.statusCode, 409);
      assert.equal(reused.code, 'IDEMPOTENCY_KEY_REUSED');
    });

    test('a bad input is a BerthError with the API\'s code and details, and queues nothing', async () => {
      const before = (await client.tasks.listPage({ runner: 'validated' })).items.length;
      const error = await rejection(client.tasks.submit('validated', { nom: 'x' }));
      assert.equal(error.statusCode, 400);
      assert.equal(error.code, 'INPUT_INVALID');
      assert.ok(error.details?.some((detail) => detail.path === '/input' && detail.message.includes("'name'")), JSON.stringify(error.details));
      assert.equal((await client.tasks.listPage({ runner: 'validated' })).items.length, before);
      const unknown = await rejection(client.tasks.submit('no-such-runner', {}));
      assert.equal(unknown.code, 'UNKNOWN_RUNNER');
      const missing = await rejection(client.tasks.get('00000000-0000-4000-8000-000000000000'));
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.code, 'TASK_NOT_FOUND');
    });

    test('tasks.cancel stops a running task; a second cancel is TASK_FINISHED', async () => {
      const task = await client.tasks.submit('sleeper', null);
      // Cancel once it runs, so the container is really stopped (not just dequeued).
      const seen = await until('the sleeper running', async () => {
        const now = await client.tasks.get(task.id);
        return now.status === 'running' ? now : undefined;
      });
      assert.equal(seen.status, 'running');
      await client.tasks.cancel(task.id);
      const cancelled = await client.tasks.wait(task.id, { timeout: 60 });
      assert.equal(cancelled.status, 'cancelled');
      const again = await rejection(client.tasks.cancel(task.id));
      assert.equal(again.code, 'TASK_FINISHED');
    });

    test('tasks.logs with follow yields the stderr as it is written, until the task ends', async () => {
      const task = await client.tasks.submit('chatty', { x: 1 });
      const chunks: string[] = [];
      for await (const chunk of client.tasks.logs(task.id, { follow: true })) chunks.push(chunk);
      assert.equal(chunks.join(''), 'line 1\nline 2\nline 3\n');
      assert.ok(chunks.length >= 2, `the lines come as they are written, not all at the end: ${JSON.stringify(chunks)}`);
      const done = await client.tasks.get(task.id);
      assert.equal(done.status, 'succeeded', 'a followed log ends once the task is final');
      const whole: string[] = [];
      for await (const chunk of client.tasks.logs(task.id)) whole.push(chunk);
      assert.equal(whole.join(''), 'line 1\nline 2\nline 3\n');
    });

    test('tasks.list walks every page of a filter; listPage gives one', async () => {
      const tasks = await client.tasks.submitBatch(Array.from({ length: 5 }, (_, i) => ({ runner: 'validated', input: { name: `n${i}` } })));
      const page = await client.tasks.listPage({ runner: 'validated', limit: 2 });
      assert.equal(page.items.length, 2);
      assert.notEqual(page.nextCursor, null);
      const seen: string[] = [];
      for await (const item of client.tasks.list({ runner: 'validated', limit: 2 })) seen.push(item.id);
      assert.equal(new Set(seen).size, seen.length, 'no task twice');
      for (const task of tasks) assert.ok(seen.includes(task.id), `task ${task.id} is listed`);
      for (const task of tasks) await client.tasks.wait(task.id, { timeout: 60 });
    });

    test('workflows: run to the end, a failed run and its retry, get and list', async () => {
      const run = await client.workflows.run('pair', { v: 7 }, { timeout: 120 });
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      assert.deepEqual(run.output, { second: { got: { input: { v: 7 }, parents: {} } } });
      assert.deepEqual(await client.workflows.get(run.id), run);

      const broken = await client.workflows.run('broken', null, { timeout: 120 });
      assert.equal(broken.status, 'failed');
      assert.equal(broken.error?.step, 'only');
      const retried = await client.workflows.retry(broken.id);
      assert.equal(retried.id, broken.id);
      assert.notDeepEqual(retried.steps[0]?.taskIds, broken.steps[0]?.taskIds, 'the retry runs the failed step again');
      const again = await client.workflows.wait(broken.id, { timeout: 120 });
      assert.equal(again.status, 'failed');

      const listed: string[] = [];
      for await (const item of client.workflows.list({ workflow: 'pair', limit: 1 })) listed.push(item.id);
      assert.ok(listed.includes(run.id));
      const notFailed = await rejection(client.workflows.retry(run.id));
      assert.equal(notFailed.code, 'WORKFLOW_RUN_NOT_FAILED');
    });

    test('runners and schedules: list, get, pause, resume, trigger', async () => {
      const runners = await client.runners.list();
      assert.deepEqual(runners.map((runner) => runner.name).sort(), ['chatty', 'echo', 'fail', 'nap', 'sleeper', 'validated']);
      assert.equal((await client.runners.get('sleeper')).name, 'sleeper');
      assert.equal((await rejection(client.runners.get('nope'))).code, 'RUNNER_NOT_FOUND');

      const [yearly] = await client.schedules.list();
      assert.equal(yearly?.name, 'yearly');
      assert.equal((await client.schedules.pause('yearly')).paused, true);
      assert.equal((await client.schedules.get('yearly')).paused, true);
      assert.equal((await client.schedules.resume('yearly')).paused, false);
      const triggered = await client.schedules.trigger('yearly');
      assert.ok(triggered.taskId !== null);
      const task = await client.tasks.wait(triggered.taskId, { timeout: 60 });
      assert.deepEqual(task.output, { from: 'yearly' });
    });

    test('a key without the scope is FORBIDDEN; no key is UNAUTHORIZED', async () => {
      const reader = createClient({ baseUrl: berth.url, apiKey: berth.readerKey });
      const [any] = (await reader.tasks.listPage({ limit: 1 })).items;
      assert.ok(any !== undefined, 'the reader may read tasks');
      const forbidden = await rejection(reader.tasks.submit('echo', {}));
      assert.equal(forbidden.statusCode, 403);
      assert.equal(forbidden.code, 'FORBIDDEN');
      const anonymous = await rejection(createClient({ baseUrl: berth.url }).tasks.listPage());
      assert.equal(anonymous.code, 'UNAUTHORIZED');
    });

    test('waiting past the timeout is WAIT_TIMEOUT with the task as last seen', async () => {
      const task = await client.tasks.submit('sleeper', null);
      const error = await rejection(client.tasks.wait(task.id, { timeout: 1.5 }));
      assert.equal(error.code, 'WAIT_TIMEOUT');
      assert.equal((error.last as { id: string }).id, task.id);
      await client.tasks.cancel(task.id);
      assert.equal((await client.tasks.wait(task.id, { timeout: 60 })).status, 'cancelled');
    });

    test('nothing listening is NETWORK_ERROR, after the retries a read is given', async () => {
      const offline = createClient({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: berth.adminKey, retries: 2, baseDelayMs: 1 });
      const error = await rejection(offline.tasks.listPage());
      assert.equal(error.code, 'NETWORK_ERROR');
      assert.equal(error.statusCode, 0);
    });
  });
}
