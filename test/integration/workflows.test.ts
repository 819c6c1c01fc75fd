/**
 * Workflow runs end to end, on every engine under test: `berth start` with the workflows of
 * test/fixtures/workflow-runners.yaml, driven over HTTP as a user would. Each step's runner echoes
 * its stdin, so a step's output is the envelope it was given.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { parseWebhookSecret, verifyStandardWebhook } from '../../src/webhook-signatures.ts';
import { spawnBerth, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { startReceiverHost } from '../helpers/receiver-host.ts';

const RUNNERS = fileURLToPath(new URL('../fixtures/workflow-runners.yaml', import.meta.url));

type Json = Record<string, any>;

const CALLBACK_KEY = parseWebhookSecret('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD');

// Receivers are paths on one server, whose port the runners file's callbacks endpoint names.
const receivers = await startReceiverHost();
after(() => receivers.close());
let receiverCount = 0;

/** A callback receiver on 127.0.0.1 that answers 200 and keeps what came. */
async function startReceiver(): Promise<{ url: string; deliveries: { headers: http.IncomingHttpHeaders; raw: Buffer }[]; close(): Promise<void> }> {
  const deliveries: { headers: http.IncomingHttpHeaders; raw: Buffer }[] = [];
  const path = `/hook-${receiverCount += 1}`;
  const remove = receivers.route(path, (request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      deliveries.push({ headers: request.headers, raw: Buffer.concat(chunks) });
      response.writeHead(200).end();
    });
  });
  return { url: `${receivers.origin}${path}`, deliveries, close: async () => remove() };
}

/** A loopback server the `gate` runner asks: 500 while closed, a JSON answer once opened. */
async function startGate(): Promise<{ url: string; open(): void; close(): Promise<void> }> {
  let open = false;
  const server = http.createServer((_request, response) => {
    if (open) response.writeHead(200, { 'content-type': 'application/json' }).end('{"gate":"open"}');
    else response.writeHead(500).end('closed');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    open: () => { open = true; },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

for (const engineUnderTest of testEngines()) {
  describe(`workflows on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let berth: BerthProcess;
    let gate: Awaited<ReturnType<typeof startGate>>;
    let url: string;

    before(async () => {
      database = await createTestDatabase();
      gate = await startGate();
      berth = spawnBerth(['start', '--config', RUNNERS], {
        DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_INSTANCE: database.name,
        BERTH_WORKER_CONCURRENCY: '4', BERTH_TEST_GATE_URL: gate.url, ...receivers.env,
      });
      url = String((await berth.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      if (berth !== undefined) assert.equal(await berth.stop('SIGTERM'), 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
      await gate?.close();
      if (database !== undefined) {
        assert.deepEqual(await engine.listContainers({ 'berth.managed-by': database.name }), [], 'no container may be left behind');
        await database.drop();
      }
    });

    async function post(path: string, body?: unknown): Promise<{ status: number; body: Json; location: string | null }> {
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      return { status: response.status, body: await response.json() as Json, location: response.headers.get('location') };
    }

    async function start(workflow: string, input?: unknown): Promise<Json> {
      const response = await post('/workflows', input === undefined ? { workflow } : { workflow, input });
      assert.equal(response.status, 202, JSON.stringify(response.body));
      assert.equal(response.location, `/workflows/${response.body['id']}`);
      return response.body;
    }

    /** GET ?wait= until the run is final. */
    async function final(id: string): Promise<Json> {
      for (let round = 0; round < 6; round += 1) {
        const run = await (await fetch(`${url}/workflows/${id}?wait=30`)).json() as Json;
        if (run['status'] !== 'running') return run;
      }
      return assert.fail(`workflow run ${id} is not final after 3 minutes`);
    }

    const stepOf = (run: Json, id: string): Json => run['steps'].find((s: Json) => s['id'] === id) ?? assert.fail(`no step ${id}`);
    const task = async (id: string): Promise<Json> => await (await fetch(`${url}/tasks/${id}`)).json() as Json;
    const outputOf = async (run: Json, step: string): Promise<any> => (await task(stepOf(run, step)['taskIds'][0]))['output'];

    test('a three-step pipeline: each step runs after its parent and its last step sees its parents\' outputs', async () => {
      const submitted = await start('pipeline', { token: 't-1' });
      assert.equal(submitted['status'], 'running');
      assert.deepEqual(submitted['steps'].map((s: Json) => [s.id, s.status]), [['first', 'queued'], ['second', 'pending'], ['third', 'pending']]);
      const run = await final(submitted['id']);
      assert.equal(run['status'], 'succeeded', JSON.stringify(run));
      const first = { input: { token: 't-1' }, parents: {} };
      const second = { input: { token: 't-1' }, parents: { first: { status: 'succeeded', output: first, error: null } } };
      assert.deepEqual(await outputOf(run, 'second'), second);
      const third = { token: 't-1', second };
      assert.deepEqual(run['output'], { third }, 'the run\'s output is its sink\'s');
      const steps = await Promise.all(['first', 'second', 'third'].map(async (id) => task(stepOf(run, id)['taskIds'][0])));
      for (const [i, t] of steps.entries()) {
        assert.equal(t['workflowId'], run['id']);
        assert.equal(t['stepId'], ['first', 'second', 'third'][i]);
        if (i > 0) assert.ok(t['startedAt'] >= steps[i - 1]!['finishedAt'], 'a step starts only after its parent finished');
      }
      const listed = await (await fetch(`${url}/tasks?workflowId=${run['id']}`)).json() as Json;
      assert.deepEqual(listed['items'].map((t: Json) => t['id']).sort(), steps.map((t) => t['id']).sort());
    });

    test('fan-in with one failed parent: always sees the failure, succeeded is skipped (and what needs it), min_succeeded counts', async () => {
      const run = await final((await start('fan-in'))['id']);
      const statuses = Object.fromEntries(run['steps'].map((s: Json) => [s.id, s.status]));
      assert.deepEqual(statuses, {
        'ok-a': 'succeeded', 'ok-b': 'succeeded', broken: 'failed', 'merge-always': 'succeeded',
        'merge-strict': 'skipped', 'two-of-three': 'succeeded', 'three-of-three': 'skipped', 'after-skip': 'skipped',
      });
      const merged = await outputOf(run, 'merge-always');
      assert.equal(merged.parents.broken.status, 'failed');
      assert.equal(merged.parents.broken.error.code, 'nonzero_exit');
      assert.equal(merged.parents['ok-a'].status, 'succeeded');
      assert.deepEqual(stepOf(run, 'merge-strict')['taskIds'], [], 'a skipped step has no task');
      assert.match(stepOf(run, 'three-of-three')['error']['message'], /2 of its parents succeeded/);
      assert.equal(run['status'], 'failed', 'a sink was skipped');
      assert.equal(run['error']['step'], 'broken');
      assert.equal(run['error']['code'], 'nonzero_exit');
    });

    for (const count of [0, 1, 50]) {
      test(`for_each over ${count} element${count === 1 ? '' : 's'}: one task each, outputs in order, the step after sees them all`, async () => {
        const items = Array.from({ length: count }, (_, i) => `item-${i}`);
        const run = await final((await start('each', { items, count }))['id']);
        assert.equal(run['status'], 'succeeded', JSON.stringify(run['error']));
        assert.equal(stepOf(run, 'work')['taskIds'].length, count);
        const gathered = await outputOf(run, 'gather');
        assert.equal(gathered.work.status, 'succeeded');
        assert.deepEqual(gathered.work.output, items.map((item, index) => ({ item, index })));
        assert.equal(gathered.work.items.length, count);
      });
    }

    test('for_each with one failing element: the step fails, the others still ran, `always` sees each element', async () => {
      const run = await final((await start('each', { items: ['a', 'bad', 'c'] }))['id']);
      assert.equal(stepOf(run, 'work')['status'], 'failed');
      const gathered = await outputOf(run, 'gather');
      assert.deepEqual(gathered.work.items.map((i: Json) => i.status), ['succeeded', 'failed', 'succeeded']);
      assert.deepEqual(gathered.work.output, [{ item: 'a', index: 0 }, null, { item: 'c', index: 2 }]);
      assert.equal(run['status'], 'succeeded', 'the sink ran (always) and succeeded');
    });

    test('a step whose input fails its runner\'s schema fails as invalid_input without a container', async () => {
      const run = await final((await start('typed-step', { token: 42 }))['id']);
      const check = await task(stepOf(run, 'check')['taskIds'][0]);
      assert.equal(check['status'], 'failed');
      assert.equal(check['error']['code'], 'invalid_input');
      assert.match(check['error']['message'], /\/input\/token must be string/);
      assert.equal(check['attempts'], 0, 'no container ran');
      assert.equal(stepOf(run, 'after')['status'], 'succeeded');
      const ok = await final((await start('typed-step', { token: 'yes' }))['id']);
      assert.equal(stepOf(ok, 'check')['status'], 'succeeded');
    });

    test('bad submissions: unknown workflow, input against its schema, for_each over too many → 400 naming the field, nothing created', async () => {
      const runs = async (): Promise<number> => (await queryDatabase<{ n: number }>(database.url, 'select count(*)::int as n from berth.workflow_runs'))[0]!.n;
      const before = await runs();
      const unknown = await post('/workflows', { workflow: 'nope' });
      assert.deepEqual([unknown.status, unknown.body['code']], [400, 'UNKNOWN_WORKFLOW']);
      const schema = await post('/workflows', { workflow: 'each', input: {} });
      assert.deepEqual([schema.status, schema.body['code']], [400, 'INPUT_INVALID']);
      assert.match(schema.body['message'], /items/);
      const tooMany = await post('/workflows', { workflow: 'each', input: { items: Array.from({ length: 61 }, (_, i) => i) } });
      assert.deepEqual([tooMany.status, tooMany.body['code']], [400, 'INPUT_INVALID']);
      assert.equal(tooMany.body['details'][0]['path'], '/input/items');
      assert.match(tooMany.body['message'], /61 elements, more than step 'work' takes \(max_items 60\)/);
      const notArray = await post('/workflows', { workflow: 'each', input: { items: 'x' } });
      assert.match(notArray.body['message'], /must be an array/);
      const shape = await post('/workflows', { workflow: 'pipeline', extra: 1 });
      assert.equal(shape.status, 400);
      assert.equal(await runs(), before, 'nothing was created');
    });

    test('cancel while a step runs: its container is killed, pending steps cancelled, the run cancelled; then 409', async () => {
      const run = await start('slow-pipeline');
      const waitTask = stepOf(run, 'wait')['taskIds'][0];
      for (let i = 0; (await task(waitTask))['status'] !== 'running'; i += 1) {
        assert.ok(i < 600, 'the slow step never started');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const cancelled = await post(`/workflows/${run['id']}/cancel`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body['status'], 'cancelled');
      assert.equal(stepOf(cancelled.body, 'wait')['status'], 'cancelled');
      assert.equal(stepOf(cancelled.body, 'after')['status'], 'cancelled');
      assert.equal((await task(waitTask))['status'], 'cancelled');
      const deadline = Date.now() + 20_000;
      while ((await engine.listContainers({ 'berth.task-id': waitTask })).length > 0) {
        assert.ok(Date.now() < deadline, 'the running step\'s container was not removed');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const again = await post(`/workflows/${run['id']}/cancel`);
      assert.deepEqual([again.status, again.body['code']], [409, 'WORKFLOW_RUN_FINISHED']);
      const retried = await post(`/workflows/${run['id']}/retry`);
      assert.deepEqual([retried.status, retried.body['code']], [409, 'WORKFLOW_RUN_NOT_FAILED']);
    });

    test('cancelling a run on a limited runner hands the freed slot to another run\'s parked task at once', async () => {
      const run = await start('limited-each', { items: [1, 2, 3] });
      const ids = stepOf(run, 'each')['taskIds'] as string[];
      const runningNow = async (): Promise<string | undefined> => {
        for (const id of ids) if ((await task(id))['status'] === 'running') return id;
        return undefined;
      };
      for (let i = 0; (await runningNow()) === undefined; i += 1) {
        assert.ok(i < 600, 'no element started');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const running = (await runningNow())!;
      const parked = ids.filter((id) => id !== running);
      const other = await start('limited-each', { items: [4] });
      const otherTask = stepOf(other, 'each')['taskIds'][0];
      // Precondition: the other run's task found the runner full and waits, parked, with no job.
      for (let i = 0; ; i += 1) {
        const [row] = await queryDatabase<{ parked: boolean }>(database.url, 'select parked_at is not null as parked from berth.tasks where id = $1', [otherTask]);
        if (row!.parked) break;
        assert.ok(i < 600, 'the other run\'s task was never parked');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const cancelled = await post(`/workflows/${run['id']}/cancel`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      for (const id of [running, ...parked]) assert.equal((await task(id))['status'], 'cancelled');
      // Not at the next sweep for free slots (half a lease, 15 s by default): in the cancel's own transaction.
      const deadline = Date.now() + 5_000;
      while ((await task(otherTask))['status'] !== 'running') {
        assert.ok(Date.now() < deadline, 'the other run\'s parked task did not get the freed slot');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal((await post(`/workflows/${other['id']}/cancel`)).status, 200);
    });

    test('retry runs a failed run again from the failed step: succeeded steps keep their tasks and outputs; each end its own callback', async (t) => {
      const receiver = await startReceiver();
      t.after(() => receiver.close());
      const callbacks = async (count: number): Promise<Json[]> => {
        for (let i = 0; receiver.deliveries.length < count; i += 1) {
          assert.ok(i < 300, `${count} callbacks did not come`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        return receiver.deliveries.map((d) => ({ id: d.headers['webhook-id'], ...JSON.parse(d.raw.toString()) as Json }));
      };
      const submitted = await post('/workflows', { workflow: 'gated', callbackUrl: receiver.url });
      assert.equal(submitted.status, 202, JSON.stringify(submitted.body));
      const failed = await final(submitted.body['id']);
      assert.equal(failed['status'], 'failed');
      assert.equal((await callbacks(1))[0]!['type'], 'workflow.failed');
      assert.deepEqual(failed['steps'].map((s: Json) => s.status), ['succeeded', 'failed', 'skipped']);
      const beforeTask = stepOf(failed, 'before')['taskIds'][0];
      gate.open();
      const retried = await post(`/workflows/${failed['id']}/retry`);
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal(retried.body['status'], 'running');
      const run = await final(failed['id']);
      assert.equal(run['status'], 'succeeded', JSON.stringify(run));
      assert.deepEqual(stepOf(run, 'before')['taskIds'], [beforeTask], 'the succeeded step did not run again');
      assert.notEqual(stepOf(run, 'gate')['taskIds'][0], stepOf(failed, 'gate')['taskIds'][0], 'the failed step ran as a fresh task');
      assert.deepEqual(await outputOf(run, 'gate'), { gate: 'open' });
      assert.deepEqual((await outputOf(run, 'after')).parents.gate.output, { gate: 'open' });
      const [end1, end2] = await callbacks(2);
      assert.deepEqual([end1!['type'], end2!['type']], ['workflow.failed', 'workflow.succeeded']);
      assert.notEqual(end1!['id'], end2!['id'], 'each end of the run is its own message, so a receiver de-duplicating by id keeps both');
      assert.equal(end2!['data']['status'], 'succeeded');
    });

    test('cancelling one step\'s task: that step is cancelled, what needs it skipped, the run failed naming it', async () => {
      const run = await start('slow-pipeline');
      const waitTask = stepOf(run, 'wait')['taskIds'][0];
      const cancelled = await post(`/tasks/${waitTask}/cancel`);
      assert.equal(cancelled.status, 200, JSON.stringify(cancelled.body));
      const ended = await final(run['id']);
      assert.deepEqual(ended['steps'].map((s: Json) => [s.id, s.status]), [['wait', 'cancelled'], ['beside', 'succeeded'], ['after', 'skipped']]);
      assert.equal(ended['status'], 'failed');
      assert.deepEqual([ended['error']['step'], ended['error']['code']], ['wait', 'cancelled']);
    });

    test('a run\'s callbackUrl gets its end once, signed: workflow.succeeded with the run', async () => {
      const receiver = await startReceiver();
      try {
        const response = await post('/workflows', { workflow: 'pipeline', input: { token: 'cb' }, callbackUrl: receiver.url });
        assert.equal(response.status, 202, JSON.stringify(response.body));
        const run = await final(response.body['id']);
        for (let i = 0; receiver.deliveries.length === 0; i += 1) {
          assert.ok(i < 300, 'no callback came');
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const [delivery] = receiver.deliveries;
        const headers = delivery!.headers;
        assert.equal(headers['webhook-id'], `workflow_${run['id']}_${Date.parse(run['finishedAt'])}`, 'one message per end of the run');
        const verdict = verifyStandardWebhook(CALLBACK_KEY, {
          id: String(headers['webhook-id']), timestamp: String(headers['webhook-timestamp']), signature: String(headers['webhook-signature']),
        }, delivery!.raw, Math.floor(Date.now() / 1000), 300);
        assert.ok(verdict.ok, 'the callback is signed with the callbacks secret');
        const body = JSON.parse(delivery!.raw.toString()) as Json;
        assert.equal(body['type'], 'workflow.succeeded');
        assert.equal(body['data']['id'], run['id']);
        assert.deepEqual(body['data']['output'], run['output']);
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(receiver.deliveries.length, 1, 'delivered once');
        const [recorded] = await queryDatabase<{ n: number }>(database.url,
          'select count(*)::int as n from berth.workflow_callback_deliveries where run_id = $1 and status_code = 200', [run['id']]);
        assert.equal(recorded!.n, 1, 'the delivery is recorded');
      } finally {
        await receiver.close();
      }
    });

    test('Idempotency-Key: the same key and body → 200 with the first run, nothing more; another body → 409', async () => {
      const key = `wf-${Date.now()}`;
      const send = (input: unknown) => fetch(`${url}/workflows`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': key }, body: JSON.stringify({ workflow: 'pipeline', input }),
      });
      const first = await send({ token: 'k' });
      assert.equal(first.status, 202);
      const id = ((await first.json()) as Json)['id'];
      const replay = await send({ token: 'k' });
      assert.equal(replay.status, 200);
      assert.equal(((await replay.json()) as Json)['id'], id);
      const other = await send({ token: 'other' });
      assert.equal(other.status, 409);
      assert.equal(((await other.json()) as Json)['code'], 'IDEMPOTENCY_KEY_REUSED');
      const [runs] = await queryDatabase<{ n: number }>(database.url,
        `select count(*)::int as n from berth.workflow_runs where input->>'token' in ('k', 'other')`);
      assert.equal(runs!.n, 1, 'one run for the key');
      await final(id);
    });

    test('unknown or malformed run ids → 404 WORKFLOW_RUN_NOT_FOUND; runs are listed newest first, by workflow and status', async () => {
      for (const id of ['0190a7a8-0000-7000-8000-000000000000', 'nope']) {
        const response = await fetch(`${url}/workflows/${id}`);
        assert.equal(response.status, 404);
        assert.equal((await response.json() as Json)['code'], 'WORKFLOW_RUN_NOT_FOUND');
      }
      const rows = await queryDatabase<{ id: string }>(database.url,
        `select id from berth.workflow_runs where workflow = 'pipeline' and status = 'succeeded' order by id desc`);
      assert.ok(rows.length >= 2, 'precondition: earlier tests left several succeeded pipeline runs');
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await (await fetch(`${url}/workflows?workflow=pipeline&status=succeeded&limit=1${cursor === null ? '' : `&cursor=${cursor}`}`)).json() as Json;
        assert.equal(page['items'].length, 1);
        assert.equal(page['items'][0]['workflow'], 'pipeline');
        seen.push(page['items'][0]['id']);
        cursor = page['nextCursor'];
      } while (cursor !== null);
      assert.deepEqual(seen, rows.map((r) => r.id), 'every succeeded pipeline run, newest first, one page each');
      // Items are summaries; fields=full gives the runs GET /workflows/{id} returns.
      const newest = await (await fetch(`${url}/workflows/${seen[0]}`)).json() as Json;
      const { input, output, steps, ...summary } = newest;
      assert.ok(input !== undefined && output !== undefined && steps !== undefined);
      const summaries = await (await fetch(`${url}/workflows?workflow=pipeline&status=succeeded&limit=1`)).json() as Json;
      assert.deepEqual(summaries['items'][0], summary);
      const full = await (await fetch(`${url}/workflows?workflow=pipeline&status=succeeded&limit=1&fields=full`)).json() as Json;
      assert.deepEqual(full['items'][0], newest);
      assert.equal(typeof full['nextCursor'], 'string');
    });
  });
}
