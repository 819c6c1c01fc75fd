/**
 * Listing tasks and retention, in-process on a fresh database each (no worker): GET /tasks pages
 * newest first, filters, stays stable while tasks are added, and rejects bad queries; retention
 * deletes old finished tasks with everything that hangs off them, and idempotency keys after a day.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { appendLog } from '../../src/tasks/log-store.ts';
import { insertAttempt } from '../../src/tasks/attempt-store.ts';
import { applyRetention } from '../../src/tasks/task-retention.ts';
import { startApiStack, type ApiStack } from '../helpers/stack.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

function client(stack: () => ApiStack) {
  return {
    async submit(body: unknown, headers: Record<string, string> = {}): Promise<Record<string, any>> {
      const response = await stack().app.inject({ method: 'POST', url: '/tasks', headers: { 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
      assert.equal(response.statusCode, 202, response.body);
      return response.json();
    },
    get: (url: string) => stack().app.inject({ method: 'GET', url }),
    async cancel(id: string): Promise<void> {
      const response = await stack().app.inject({ method: 'POST', url: `/tasks/${id}/cancel` });
      assert.equal(response.statusCode, 200, response.body);
    },
  };
}

describe('GET /tasks', () => {
  let stack: ApiStack;
  const api = client(() => stack);
  /** Every task of this database, newest first. */
  let all: string[] = [];
  let echo: string[] = [];
  let textEcho: string[] = [];
  let cancelled: string[] = [];

  before(async () => {
    stack = await startApiStack();
    // One at a time, so submission order is creation order.
    for (const runner of ['echo', 'text-echo', 'echo', 'echo', 'text-echo', 'echo', 'text-echo', 'echo']) {
      const task = await api.submit({ runner, input: all.length });
      all.unshift(task['id']);
      (runner === 'echo' ? echo : textEcho).unshift(task['id']);
    }
    cancelled = [all[1]!, all[6]!];
    for (const id of cancelled) await api.cancel(id);
  });
  after(async () => { await stack?.close(); });

  async function page(query: string) {
    const response = await api.get(`/tasks?${query}`);
    assert.equal(response.statusCode, 200, `${query}: ${response.body}`);
    return response.json() as { items: Record<string, any>[]; nextCursor: string | null };
  }

  /** Follows nextCursor to the end; `between` runs before each next page. */
  async function walk(query: string, between: () => Promise<void> = async () => undefined) {
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const { items, nextCursor }: { items: Record<string, any>[]; nextCursor: string | null } =
        await page(cursor === null ? query : `${query}&cursor=${encodeURIComponent(cursor)}`);
      pages.push(items.map((t) => t['id']));
      cursor = nextCursor;
      if (cursor !== null) await between();
      assert.ok(pages.length <= 50, 'the walk must end');
    } while (cursor !== null);
    return pages;
  }

  test('newest first, as summaries, no cursor when everything fits; fields=full gives whole tasks', async () => {
    const { items, nextCursor } = await page('');
    assert.deepEqual(items.map((t) => t['id']), all);
    assert.equal(nextCursor, null);
    const { input, output, attemptHistory, callbackDeliveries, ...summary } = (await api.get(`/tasks/${all[0]}`)).json();
    assert.deepEqual(items[0], summary, 'a summary is the task without its input, output and histories');
    assert.deepEqual([input, output, attemptHistory, callbackDeliveries].map((value) => value === undefined), [false, false, false, false]);
    const full = await page('fields=full');
    assert.deepEqual(full.items.map((t) => t['id']), all);
    assert.deepEqual(full.items[0], (await api.get(`/tasks/${all[0]}`)).json(), 'with fields=full, items are the tasks GET /tasks/{id} returns');
    assert.deepEqual((await page('fields=summary')).items, items);
    assert.equal((await api.get('/tasks?fields=everything')).statusCode, 400);
  });

  test('filters by runner, by status, and by both', async () => {
    assert.deepEqual((await page('runner=text-echo')).items.map((t) => t['id']), textEcho);
    assert.deepEqual((await page('runner=echo')).items.map((t) => t['id']), echo);
    assert.deepEqual((await page('status=cancelled')).items.map((t) => t['id']), cancelled);
    assert.deepEqual((await page('status=queued')).items.map((t) => t['id']), all.filter((id) => !cancelled.includes(id)));
    assert.deepEqual((await page('runner=echo&status=cancelled')).items.map((t) => t['id']), echo.filter((id) => cancelled.includes(id)));
    assert.deepEqual((await page('runner=no-such-runner')), { items: [], nextCursor: null });
    assert.deepEqual((await page('status=running')), { items: [], nextCursor: null });
  });

  test('pages of 2 return every task exactly once, in order; the last page has no cursor', async () => {
    const pages = await walk('limit=2');
    assert.deepEqual(pages.map((p) => p.length), [2, 2, 2, 2]);
    assert.deepEqual(pages.flat(), all);
    const filtered = await walk('limit=2&runner=echo');
    assert.deepEqual(filtered.map((p) => p.length), [2, 2, 1]);
    assert.deepEqual(filtered.flat(), echo);
  });

  test('pages stay stable while tasks are submitted between them', async () => {
    const before = [...all];
    const added: string[] = [];
    const pages = await walk('limit=2', async () => { added.push((await api.submit({ runner: 'echo', input: 'late' }))['id']); });
    const seen = pages.flat();
    assert.equal(added.length, 3);
    assert.equal(new Set(seen).size, seen.length, `no task twice: ${seen.join(' ')}`);
    assert.deepEqual(seen.filter((id) => before.includes(id)), before, 'every task that existed is returned once, in order');
    all = [...added.reverse(), ...all];
    assert.deepEqual((await page('')).items.map((t) => t['id']), all, 'the new tasks come first on a new walk');
  });

  test('bad cursor, status or limit → 400', async () => {
    const queries = [
      'cursor=not-a-cursor', `cursor=${Buffer.from('hello').toString('base64url')}`, 'cursor=',
      'status=done', 'limit=0', 'limit=501', 'limit=-1', 'limit=abc', 'limit=1.5',
    ];
    for (const query of queries) {
      const response = await api.get(`/tasks?${query}`);
      assert.equal(response.statusCode, 400, `${query}: ${response.body}`);
      assert.equal(response.json().code, 'VALIDATION_FAILED', query);
    }
    assert.equal((await page('limit=500')).items.length, all.length, 'limit 500 is allowed');
  });
});

describe('a page of whole tasks is bounded in bytes as well as in count', () => {
  let stack: ApiStack;
  const api = client(() => stack);
  before(async () => { stack = await startApiStack(); });
  after(async () => { await stack?.close(); });

  test('fields=full ends the page once inputs and outputs pass 8 MiB; nextCursor goes on from there', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i += 1) ids.unshift((await api.submit({ runner: 'echo', input: `${i}`.padEnd(950_000, 'x') }))['id']);
    const first = (await api.get('/tasks?fields=full&limit=100')).json();
    assert.deepEqual(first.items.map((t: { id: string }) => t.id), ids.slice(0, 8), '8 × 950 kB fit in 8 MiB, a 9th does not');
    assert.notEqual(first.nextCursor, null);
    const second = (await api.get(`/tasks?fields=full&limit=100&cursor=${first.nextCursor}`)).json();
    assert.deepEqual(second.items.map((t: { id: string }) => t.id), ids.slice(8));
    assert.equal(second.nextCursor, null);
    // Summaries carry no inputs: one page holds them all.
    assert.equal((await api.get('/tasks?limit=100')).json().items.length, 10);
  });
});

describe('retention', () => {
  let stack: ApiStack;
  const api = client(() => stack);
  before(async () => { stack = await startApiStack(); });
  after(async () => { await stack?.close(); });

  const retain = () => applyRetention(stack.pool, 7 * DAY_MS);

  async function finishedDaysAgo(id: string, days: number): Promise<void> {
    await api.cancel(id);
    await stack.pool.query(`update berth.tasks set finished_at = now() - make_interval(days => $2) where id = $1`, [id, days]);
  }

  async function rowsOf(id: string) {
    const { rows } = await stack.pool.query<{ attempts: number; logs: number; keys: number }>(
      `select (select count(*)::int from berth.task_attempts where task_id = $1) as attempts,
              (select count(*)::int from berth.task_log_chunks where task_id = $1) as logs,
              (select count(*)::int from berth.idempotency_keys where task_id = $1) as keys`, [id]);
    return rows[0]!;
  }

  test('finished tasks past the retention period go with their attempts, logs and keys; the rest stay', async () => {
    const oldKey = randomUUID();
    const old = await api.submit({ runner: 'echo', input: 'old' }, { 'idempotency-key': oldKey });
    await insertAttempt(stack.pool, old['id'], 1);
    await appendLog(stack.pool, old['id'], 1, Buffer.from('old log\n'));
    await finishedDaysAgo(old['id'], 8);
    assert.deepEqual(await rowsOf(old['id']), { attempts: 1, logs: 1, keys: 1 }, 'the old task has something to delete');

    const recent = await api.submit({ runner: 'echo', input: 'recent' }, { 'idempotency-key': randomUUID() });
    await insertAttempt(stack.pool, recent['id'], 1);
    await appendLog(stack.pool, recent['id'], 1, Buffer.from('recent log\n'));
    await api.cancel(recent['id']);
    const sixDays = await api.submit({ runner: 'echo', input: 'six days' });
    await finishedDaysAgo(sixDays['id'], 6);
    const oldQueued = await api.submit({ runner: 'echo', input: 'queued long ago' });
    await stack.pool.query(`update berth.tasks set created_at = now() - interval '30 days' where id = $1`, [oldQueued['id']]);
    const running = await api.submit({ runner: 'echo', input: 'running long ago' });
    await stack.pool.query(
      `update berth.tasks set status = 'running', attempts = 1, created_at = now() - interval '30 days',
          started_at = now() - interval '30 days', heartbeat_at = now() where id = $1`, [running['id']]);

    await retain();

    const gone = await api.get(`/tasks/${old['id']}`);
    assert.equal(gone.statusCode, 404, 'the old finished task is deleted');
    assert.deepEqual(await rowsOf(old['id']), { attempts: 0, logs: 0, keys: 0 });
    for (const task of [recent, sixDays, oldQueued, running]) {
      const response = await api.get(`/tasks/${task['id']}`);
      assert.equal(response.statusCode, 200, `task '${task['input']}' must stay`);
    }
    assert.deepEqual(await rowsOf(recent['id']), { attempts: 1, logs: 1, keys: 1 });
    assert.equal((await api.get(`/tasks/${recent['id']}/logs?attempt=1`)).body, 'recent log\n');
    const again = await api.submit({ runner: 'echo', input: 'old' }, { 'idempotency-key': oldKey });
    assert.notEqual(again['id'], old['id'], 'the deleted task\'s key is free again');
  });

  test('a finished workflow run past the retention period goes with its steps\' tasks; a step\'s task never goes alone', async () => {
    const startRun = async (key: string): Promise<Record<string, any>> => {
      const response = await stack.app.inject({
        method: 'POST', url: '/workflows', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ workflow: 'triage', input: { key } }),
      });
      assert.equal(response.statusCode, 202, response.body);
      return response.json();
    };
    const old = await startRun('old');
    const oldTask = old['steps'][0]['taskIds'][0];
    assert.equal((await stack.app.inject({ method: 'POST', url: `/workflows/${old['id']}/cancel` })).statusCode, 200);
    await stack.pool.query(`update berth.workflow_runs set finished_at = now() - interval '8 days' where id = $1`, [old['id']]);
    await stack.pool.query(`update berth.tasks set finished_at = now() - interval '8 days' where workflow_id = $1`, [old['id']]);
    // A running run whose first step's task ended long ago (as if the run had waited on it since).
    const running = await startRun('running');
    const runningTask = running['steps'][0]['taskIds'][0];
    await stack.pool.query(`update berth.tasks set status = 'cancelled', finished_at = now() - interval '8 days' where id = $1`, [runningTask]);

    const deleted = await retain();

    assert.ok(deleted.workflowRuns >= 1, JSON.stringify(deleted));
    assert.equal((await api.get(`/workflows/${old['id']}`)).statusCode, 404, 'the old run is deleted');
    assert.equal((await api.get(`/tasks/${oldTask}`)).statusCode, 404, 'with its steps\' tasks');
    assert.equal((await api.get(`/workflows/${running['id']}`)).statusCode, 200, 'a running run stays');
    assert.equal((await api.get(`/tasks/${runningTask}`)).statusCode, 200, 'and so do its tasks, however old');
  });

  test('idempotency keys older than 24 hours are deleted; their tasks and younger keys stay', async () => {
    const staleKey = randomUUID();
    const youngKey = randomUUID();
    const stale = await api.submit({ runner: 'echo', input: 'stale key' }, { 'idempotency-key': staleKey });
    const young = await api.submit({ runner: 'echo', input: 'young key' }, { 'idempotency-key': youngKey });
    await stack.pool.query(`update berth.idempotency_keys set created_at = now() - interval '25 hours' where key = $1`, [staleKey]);
    await stack.pool.query(`update berth.idempotency_keys set created_at = now() - interval '23 hours' where key = $1`, [youngKey]);

    await retain();

    const { rows } = await stack.pool.query<{ key: string }>(`select key from berth.idempotency_keys where key = any($1)`, [[staleKey, youngKey]]);
    assert.deepEqual(rows.map((r) => r.key), [youngKey]);
    assert.equal((await api.get(`/tasks/${stale['id']}`)).statusCode, 200, 'the task outlives its key');
    const replay = await stack.app.inject({
      method: 'POST', url: '/tasks', headers: { 'content-type': 'application/json', 'idempotency-key': youngKey },
      payload: JSON.stringify({ runner: 'echo', input: 'young key' }),
    });
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.json().id, young['id']);
    const fresh = await api.submit({ runner: 'echo', input: 'stale key' }, { 'idempotency-key': staleKey });
    assert.notEqual(fresh['id'], stale['id'], 'an expired key makes a new task');
  });
});
