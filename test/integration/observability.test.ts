/**
 * Observability (issue 12), for every engine under test, against a real `berth start` with the
 * worker's metrics server on BERTH_METRICS_PORT:
 * - GET /metrics on the API and on the worker's port: the named series move by exactly what the
 *   test's tasks, webhook deliveries, callbacks and workflow run did; the queue gauges (read from
 *   the database) see tasks waiting for a limited runner and fall back to zero once they ran;
 * - W3C traceparent: kept on the task, seen inside its container as TRACEPARENT, sent on its
 *   callback; batch tasks, a workflow run's step tasks and a webhook's task keep theirs; an invalid
 *   header is ignored;
 * - the worker's /healthz and /readyz; request ids answered as x-request-id and found, with the
 *   task id, in the API's log line, and the task id (with its trace id) in the worker's.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { spawnBerth, waitForFinal, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';

const RUNNERS = fileURLToPath(new URL('../fixtures/observe-runners.yaml', import.meta.url));
const TIMEOUT_MS = 60_000;

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const BATCH_TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
const RUN_TRACE = '00-11111111111111111111111111111111-2222222222222222-01';
const HOOK_TRACE = '00-abcdefabcdefabcdefabcdefabcdef01-0123456789abcdef-01';

interface Received { readonly path: string; readonly headers: http.IncomingHttpHeaders; readonly body: Record<string, any> }

/** A callback receiver on 127.0.0.1 that answers 200 and keeps every delivery. */
async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any> });
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every sample of a Prometheus text exposition, as [name, labels, value]. */
function samples(text: string): [string, Record<string, string>, number][] {
  const found: [string, Record<string, string>, number][] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
    found.push([match[1]!, labels, Number(match[3])]);
  }
  return found;
}

/** The value of the one sample of `name` with these labels (among others); 0 when there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const matching = samples(text).filter(([n, l]) => n === name && Object.entries(labels).every(([k, v]) => l[k] === v));
  assert.ok(matching.length <= 1, `${name}${JSON.stringify(labels)} names ${matching.length} samples`);
  return matching[0]?.[2] ?? 0;
}

async function scrape(base: string): Promise<string> {
  const response = await fetch(`${base}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return response.text();
}

async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = TIMEOUT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await read();
    if (done(current)) return current;
    if (Date.now() > deadline) throw new Error(`${what} not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const engineUnderTest of testEngines()) {
  describe(`metrics and trace context on ${engineUnderTest.name}`, () => {
    let database: TestDatabase;
    let berth: BerthProcess;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let api: string;
    let worker: string;

    before(async () => {
      database = await createTestDatabase();
      receiver = await startReceiver();
      berth = spawnBerth(['start', '--config', RUNNERS], {
        DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_METRICS_PORT: '0',
        BERTH_INSTANCE: database.name, BERTH_WORKER_CONCURRENCY: '3',
        // The runners file's callbacks endpoint is this receiver's origin.
        BERTH_TEST_RECEIVER_PORT: new URL(receiver.url).port,
      });
      api = String((await berth.waitForLog('berth is listening'))['url']);
      worker = String((await berth.waitForLog('worker metrics listening'))['url']);
      await berth.waitForLog('worker started');
    });

    after(async () => {
      const code = await berth?.stop('SIGTERM');
      assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth?.output()}`);
      await receiver?.close();
      await database?.drop();
    });

    async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
      return fetch(`${api}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    }

    async function submit(body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<Record<string, any>> {
      const response = await post('/tasks', body, headers);
      assert.equal(response.status, 202, await response.clone().text());
      return await response.json() as Record<string, any>;
    }

    test('traceparent: kept on the task, seen by its container, sent on its callback; batches, step tasks and webhooks keep theirs; invalid ones are ignored', async () => {
      const traced = await submit({ runner: 'trace', callbackUrl: `${receiver.url}/traced` }, { traceparent: TRACE });
      assert.equal(traced['traceparent'], TRACE);
      const invalid = await submit({ runner: 'trace', callbackUrl: `${receiver.url}/untraced` }, { traceparent: TRACE.toUpperCase() });
      assert.equal(invalid['traceparent'], null, 'an invalid traceparent is ignored, not refused');
      const none = await submit({ runner: 'trace' });

      const batch = await post('/tasks/batch', { tasks: [{ runner: 'trace' }, { runner: 'trace' }] }, { traceparent: BATCH_TRACE });
      assert.equal(batch.status, 202, await batch.clone().text());
      const batchTasks = ((await batch.json()) as { tasks: Record<string, any>[] }).tasks;

      const runResponse = await post('/workflows', { workflow: 'traced' }, { traceparent: RUN_TRACE });
      assert.equal(runResponse.status, 202, await runResponse.clone().text());
      const run = await runResponse.json() as Record<string, any>;
      assert.equal(run['traceparent'], RUN_TRACE);

      const hookBody = JSON.stringify({ webhookEvent: 'jira:issue_created', issue: { key: 'OBS-1' } });
      const hook = await fetch(`${api}/webhooks/jira`, {
        method: 'POST', body: hookBody,
        headers: {
          'content-type': 'application/json', traceparent: HOOK_TRACE,
          'x-hub-signature': `sha256=${createHmac('sha256', 'observe-jira-secret').update(hookBody).digest('hex')}`,
        },
      });
      assert.equal(hook.status, 202, await hook.clone().text());
      const hookTask = String(((await hook.json()) as Record<string, unknown>)['taskId']);

      for (const [id, expected] of [
        [traced['id'], TRACE], [invalid['id'], null], [none['id'], null],
        [batchTasks[0]!['id'], BATCH_TRACE], [batchTasks[1]!['id'], BATCH_TRACE], [hookTask, HOOK_TRACE],
      ] as [string, string | null][]) {
        const final = await waitForFinal(api, id, TIMEOUT_MS);
        assert.equal(final['status'], 'succeeded', JSON.stringify(final));
        assert.equal(final['traceparent'], expected, `task ${id}`);
        assert.equal(final['output'], expected ?? '', `TRACEPARENT inside the container of ${id}`);
      }

      const finalRun = await eventually('the workflow run final', async () => await (await fetch(`${api}/workflows/${run['id']}`)).json() as Record<string, any>,
        (r) => r['status'] !== 'running');
      assert.equal(finalRun['status'], 'succeeded', JSON.stringify(finalRun));
      const stepTasks = (finalRun['steps'] as { taskIds: string[] }[]).flatMap((step) => step.taskIds);
      assert.equal(stepTasks.length, 2);
      for (const id of stepTasks) {
        const task = await (await fetch(`${api}/tasks/${id}`)).json() as Record<string, any>;
        assert.equal(task['traceparent'], RUN_TRACE, 'a step task inherits its run\'s traceparent');
        assert.equal(task['output'], RUN_TRACE);
      }

      await eventually('both callbacks', async () => receiver.received.length, (n) => n >= 2);
      const tracedCallback = receiver.received.find((r) => r.path === '/traced')!;
      assert.equal(tracedCallback.headers['traceparent'], TRACE);
      assert.equal(tracedCallback.body['data'].traceparent, TRACE);
      const untracedCallback = receiver.received.find((r) => r.path === '/untraced')!;
      assert.equal(untracedCallback.headers['traceparent'], undefined, 'no traceparent header for a task without one');
      const recorded = await eventually('the worker\'s count of both deliveries', () => scrape(worker),
        (text) => value(text, 'berth_callback_deliveries_total', { subject: 'task', result: 'delivered' }) >= 2);
      assert.equal(value(recorded, 'berth_callback_deliveries_total', { subject: 'task', result: 'delivered' }), 2);

      // The worker's log lines about a task carry its id, and its trace id when it has one.
      const finished = berth.output().split('\n').filter((line) => line.includes('"attempt finished"')).map((line) => JSON.parse(line) as Record<string, unknown>);
      const ofTraced = finished.find((line) => line['taskId'] === traced['id']);
      assert.ok(ofTraced, 'the worker logged the traced task\'s end with its taskId');
      assert.equal(ofTraced['traceId'], TRACE.slice(3, 35));
      assert.equal(finished.find((line) => line['taskId'] === none['id'])?.['traceId'], undefined);
    });

    test('metrics: the API\'s and the worker\'s series move by what was done', async () => {
      const [apiBefore, workerBefore] = [await scrape(api), await scrape(worker)];
      // Both processes list every configured runner from the start.
      assert.equal(value(apiBefore, 'berth_tasks_submitted_total', { runner: 'gated' }), 0);
      assert.equal(value(workerBefore, 'berth_tasks_finished_total', { runner: 'gated', status: 'succeeded' }), 0);

      const echo = await submit({ runner: 'echo', input: { n: 1 }, callbackUrl: `${receiver.url}/echo` });
      const fail = await submit({ runner: 'fail' });
      const later = await submit({ runner: 'echo', delay: 3600 });
      const cancel = await post(`/tasks/${later['id']}/cancel`, {});
      assert.equal(cancel.status, 200, await cancel.clone().text());
      const run = await post('/workflows', { workflow: 'traced' });
      assert.equal(run.status, 202);
      const runId = String(((await run.json()) as Record<string, unknown>)['id']);
      const good = JSON.stringify({ webhookEvent: 'jira:issue_created', issue: { key: 'OBS-2' } });
      const signed = await fetch(`${api}/webhooks/jira`, {
        method: 'POST', body: good,
        headers: { 'content-type': 'application/json', 'x-hub-signature': `sha256=${createHmac('sha256', 'observe-jira-secret').update(good).digest('hex')}` },
      });
      assert.equal(signed.status, 202);
      const hookTask = String(((await signed.json()) as Record<string, unknown>)['taskId']);
      const forged = await fetch(`${api}/webhooks/jira`, { method: 'POST', body: good, headers: { 'content-type': 'application/json', 'x-hub-signature': 'sha256=00' } });
      assert.equal(forged.status, 401);

      assert.equal((await waitForFinal(api, echo['id']))['status'], 'succeeded');
      assert.equal((await waitForFinal(api, fail['id']))['status'], 'failed');
      assert.equal((await waitForFinal(api, hookTask))['status'], 'succeeded');
      await eventually('the workflow run final', async () => (await (await fetch(`${api}/workflows/${runId}`)).json() as Record<string, any>)['status'],
        (status) => status === 'succeeded');

      // Containers that ran: echo, fail, the webhook's trace task and the run's two steps.
      const ran = 5;
      const delta = (now: string, then: string, name: string, labels: Record<string, string>) => value(now, name, labels) - value(then, name, labels);
      const workerAfter = await eventually('the worker\'s counters', () => scrape(worker), (text) =>
        delta(text, workerBefore, 'berth_tasks_finished_total', { runner: 'trace', status: 'succeeded' }) >= 3
        && delta(text, workerBefore, 'berth_callback_deliveries_total', { subject: 'task', result: 'delivered' }) >= 1);
      const apiAfter = await scrape(api);

      // Submitted where the submission happened: the API (the run's first step, the webhook's task) and the
      // worker (the run's second step, released as the first ended).
      assert.equal(delta(apiAfter, apiBefore, 'berth_tasks_submitted_total', { runner: 'echo' }), 2);
      assert.equal(delta(apiAfter, apiBefore, 'berth_tasks_submitted_total', { runner: 'fail' }), 1);
      assert.equal(delta(apiAfter, apiBefore, 'berth_tasks_submitted_total', { runner: 'trace' }), 2);
      assert.equal(delta(workerAfter, workerBefore, 'berth_tasks_submitted_total', { runner: 'trace' }), 1);
      // Finished where the status changed: the cancel in the API, the ends in the worker.
      assert.equal(delta(apiAfter, apiBefore, 'berth_tasks_finished_total', { runner: 'echo', status: 'cancelled' }), 1);
      assert.equal(delta(apiAfter, apiBefore, 'berth_task_duration_seconds_count', { runner: 'echo', status: 'cancelled' }), 0, 'it never ran');
      assert.equal(delta(workerAfter, workerBefore, 'berth_tasks_finished_total', { runner: 'echo', status: 'succeeded' }), 1);
      assert.equal(delta(workerAfter, workerBefore, 'berth_tasks_finished_total', { runner: 'fail', status: 'failed' }), 1);
      assert.equal(delta(workerAfter, workerBefore, 'berth_tasks_finished_total', { runner: 'trace', status: 'succeeded' }), 3);
      assert.equal(delta(workerAfter, workerBefore, 'berth_task_duration_seconds_count', { runner: 'echo', status: 'succeeded' }), 1);
      assert.equal(delta(workerAfter, workerBefore, 'berth_task_duration_seconds_count', { runner: 'fail', status: 'failed' }), 1);
      assert.ok(delta(workerAfter, workerBefore, 'berth_task_duration_seconds_sum', { runner: 'echo', status: 'succeeded' }) > 0);
      assert.equal(delta(workerAfter, workerBefore, 'berth_task_queue_wait_seconds_count', { runner: 'echo' }), 1);
      assert.equal(delta(workerAfter, workerBefore, 'berth_task_queue_wait_seconds_count', { runner: 'trace' }), 3);
      // A 1 s bucket holds the echo task's wait (le is cumulative, so +Inf holds it too).
      assert.equal(delta(workerAfter, workerBefore, 'berth_task_queue_wait_seconds_bucket', { runner: 'echo', le: '+Inf' }), 1);
      assert.equal(delta(workerAfter, workerBefore, 'berth_container_operation_seconds_count', { operation: 'create', result: 'ok' }), ran);
      assert.equal(delta(workerAfter, workerBefore, 'berth_container_operation_seconds_count', { operation: 'start', result: 'ok' }), ran);
      assert.equal(delta(workerAfter, workerBefore, 'berth_callback_deliveries_total', { subject: 'task', result: 'delivered' }), 1);
      assert.equal(delta(workerAfter, workerBefore, 'berth_callback_deliveries_total', { subject: 'task', result: 'failed' }), 0);
      assert.equal(delta(apiAfter, apiBefore, 'berth_webhook_deliveries_total', { webhook: 'jira', result: 'started' }), 1);
      assert.equal(delta(apiAfter, apiBefore, 'berth_webhook_deliveries_total', { webhook: 'jira', result: 'unauthorized' }), 1);
      // Database figures: on the API, not the worker (one source, nothing counted twice).
      assert.equal(value(apiAfter, 'berth_figures_up'), 1);
      assert.equal(value(apiAfter, 'berth_workflow_runs', { status: 'succeeded' }), 2, 'this run and the first test\'s');
      assert.equal(value(apiAfter, 'berth_workflow_runs', { status: 'running' }), 0);
      assert.ok(!apiAfter.includes('berth_container_operation_seconds_count{'), 'the API runs no containers');
      assert.ok(!workerAfter.includes('berth_queue_depth'), 'the worker does not report the database\'s figures');
    });

    test('queue gauges: tasks waiting for a limited runner are counted and aged, then gone', async () => {
      const tasks = [await submit({ runner: 'gated' }), await submit({ runner: 'gated' }), await submit({ runner: 'gated' })];
      const waiting = await eventually('one gated task running and two waiting', () => scrape(api), (text) =>
        value(text, 'berth_tasks_running', { runner: 'gated' }) === 1 && value(text, 'berth_queue_depth', { runner: 'gated' }) === 2);
      assert.ok(value(waiting, 'berth_queue_oldest_age_seconds', { runner: 'gated' }) > 0);
      assert.equal(value(waiting, 'berth_queue_depth', { runner: 'echo' }), 0, 'a task whose start time is ahead is not in the queue');
      const aged = await eventually('the oldest waiting task older', () => scrape(api), (text) =>
        value(text, 'berth_queue_oldest_age_seconds', { runner: 'gated' }) >= 1);
      assert.ok(value(aged, 'berth_queue_depth', { runner: 'gated' }) >= 1);
      for (const task of tasks) assert.equal((await waitForFinal(api, task['id']))['status'], 'succeeded');
      const drained = await scrape(api);
      assert.equal(value(drained, 'berth_queue_depth', { runner: 'gated' }), 0);
      assert.equal(value(drained, 'berth_queue_oldest_age_seconds', { runner: 'gated' }), 0);
      assert.equal(value(drained, 'berth_tasks_running', { runner: 'gated' }), 0);
    });

    test('the worker\'s /healthz and /readyz; the API answers with x-request-id, which its log line carries with the task id', async () => {
      assert.deepEqual(await (await fetch(`${worker}/healthz`)).json(), { status: 'ok' });
      assert.deepEqual(await (await fetch(`${worker}/readyz`)).json(), { status: 'ready' });
      assert.equal((await fetch(`${worker}/tasks`)).status, 404);

      const response = await post('/tasks', { runner: 'echo' });
      const requestId = response.headers.get('x-request-id');
      assert.match(requestId ?? '', /^[0-9a-f-]{36}$/);
      const task = await response.json() as Record<string, unknown>;
      // The log line reaches the pipe a moment after the answer.
      const ours = await eventually('the submission\'s log line', async () => berth.output().split('\n')
        .filter((l) => l.includes('"task submitted"')).map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['taskId'] === task['id']), (line) => line !== undefined);
      assert.equal(ours?.['reqId'], requestId, 'the submission\'s log line carries the request id and the task id');
      await waitForFinal(api, String(task['id']));
    });

    test('GET /healthz (a container health check, every few seconds) writes no request log lines; other requests do', async () => {
      for (let i = 0; i < 3; i += 1) assert.equal((await fetch(`${api}/healthz`)).status, 200);
      // A request logged after them: once its line is there, theirs would be too.
      const marker = await fetch(`${api}/readyz`);
      const requestId = marker.headers.get('x-request-id');
      await eventually('the marker\'s log line', async () => berth.output().includes(`"reqId":"${requestId}"`), (seen) => seen);
      const health = berth.output().split('\n').filter((line) => line.includes('"url":"/healthz"'));
      assert.deepEqual(health, [], 'no request line for /healthz');
    });
  });
}
