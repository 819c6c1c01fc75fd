/**
 * The task lifecycle with real processes, for every engine under test: `berth start` in a child
 * process runs tasks in real containers while the test cancels them, watches them retry, waits on
 * them and follows their logs. A trigger installed in the test's own database records every status
 * change of every task, so transient states (queued for a retry, with nextAttemptAt) are checked
 * without racing the worker. Scheduling (delay, priority, concurrency) is in
 * lifecycle-scheduling.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { FIXTURE_RUNNERS } from '../helpers/stack.ts';
import { until } from '../helpers/wait.ts';

/** Test instrumentation, not part of Berth: a row per insert and per status change of a task. */
const RECORD_STATES = `
  create table public.task_states (
    seq bigserial primary key, id uuid not null, status text not null, attempts int not null,
    next_attempt_at timestamptz, at timestamptz not null);
  create function public.record_task_state() returns trigger language plpgsql as $$
  begin
    if tg_op = 'INSERT' or old.status is distinct from new.status then
      insert into public.task_states (id, status, attempts, next_attempt_at, at)
      values (new.id, new.status, new.attempts, new.next_attempt_at, now());
    end if;
    return new;
  end $$;
  create trigger record_task_state after insert or update on berth.tasks
    for each row execute function public.record_task_state();`;

type Json = Record<string, any>;


for (const engineUnderTest of testEngines()) {
  describe(`task lifecycle on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let berth: BerthProcess;
    let url: string;

    before(async () => {
      database = await createTestDatabase();
      await queryDatabase(database.url, RECORD_STATES);
      berth = spawnBerth(['start'], {
        DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: FIXTURE_RUNNERS,
        BERTH_INSTANCE: database.name,
      });
      url = String((await berth.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      if (berth !== undefined) assert.equal(await berth.stop('SIGTERM'), 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
      if (database !== undefined) {
        assert.deepEqual(await engine.listContainers({ 'berth.managed-by': database.name }), [], 'no container may be left behind');
        await database.drop();
      }
    });

    async function post(body: Json, headers: Record<string, string> = {}) {
      return fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    }
    const getTask = async (id: string): Promise<Json> => (await fetch(`${url}/tasks/${id}`)).json() as Promise<Json>;
    const cancel = (id: string) => fetch(`${url}/tasks/${id}/cancel`, { method: 'POST' });
    const logs = async (id: string, query = ''): Promise<string> => (await fetch(`${url}/tasks/${id}/logs${query}`)).text();
    const containersOf = (id: string) => engine.listContainers({ 'berth.task-id': id });
    const untilNoContainer = (id: string) => until(`container of ${id} removed`, async () => ((await containersOf(id)).length === 0 ? true : undefined));
    const history = (task: Json) => task['attemptHistory'].map((a: Json) => [a['attempt'], a['exitCode'], a['error']?.['code'] ?? null]);

    async function states(id: string) {
      return queryDatabase<{ status: string; attempts: number; delay_ms: number | null }>(database.url,
        `select status, attempts, round(extract(epoch from next_attempt_at - at) * 1000)::int as delay_ms
           from public.task_states where id = $1 order by seq`, [id]);
    }

    function assertAttemptsInOrder(task: Json): void {
      const attempts: Json[] = task['attemptHistory'];
      for (const [i, a] of attempts.entries()) {
        assert.ok(a['finishedAt'] !== null && Date.parse(a['startedAt']) <= Date.parse(a['finishedAt']), JSON.stringify(a));
        if (i > 0) assert.ok(Date.parse(a['startedAt']) >= Date.parse(attempts[i - 1]!['finishedAt']), 'attempts never overlap');
      }
    }

    test('cancelling a running task kills its container; the task and its attempt are cancelled', async () => {
      const task = await submit(url, 'sleeper');
      await waitForStatus(url, task['id'], 'running');
      await until('the sleeper\'s container exists', async () => ((await containersOf(task['id'])).length > 0 ? true : undefined));
      const discarded = (berth.output().match(/"msg":"attempt ended after its task was cancelled or taken over; result discarded"/g) ?? []).length;

      const response = await cancel(task['id']);
      assert.equal(response.status, 200);
      const cancelled = await response.json() as Json;
      assert.equal(cancelled['status'], 'cancelled');
      assert.deepEqual(history(cancelled), [[1, null, 'cancelled']]);

      // The sleeper would run for 60 s: gone well before that means it was killed.
      await untilNoContainer(task['id']);
      await until('the worker to discard the attempt', async () =>
        ((berth.output().match(/"msg":"attempt ended after its task was cancelled or taken over; result discarded"/g) ?? []).length > discarded ? true : undefined));
      const final = await getTask(task['id']);
      assert.equal(final['status'], 'cancelled');
      assert.equal(final['attempts'], 1);
      assert.equal(final['error'], null);
      assert.equal(final['output'], null);
      assert.deepEqual(history(final), [[1, null, 'cancelled']]);
      assert.notEqual(final['attemptHistory'][0]['finishedAt'], null);
      assert.deepEqual((await states(task['id'])).map((s) => s.status), ['queued', 'running', 'cancelled']);
    });

    test('a delayed task cancelled before its time never gets an attempt', async () => {
      const response = await post({ runner: 'echo', input: 'never', delay: 2 });
      assert.equal(response.status, 202);
      const task = await response.json() as Json;
      assert.equal((await cancel(task['id'])).status, 200);
      // Its job still comes due; the worker must find the task cancelled and let the job go.
      const jobStates = () => queryDatabase<{ state: string }>(database.url,
        `select state from pgboss.job where name = 'berth-run-task' and data->>'taskId' = $1`, [task['id']]);
      await until('the job to be settled', async () => ((await jobStates()).every((j) => j.state === 'completed') ? true : undefined));
      assert.deepEqual((await jobStates()).map((j) => j.state), ['completed'], 'one job, and no new one');
      const final = await getTask(task['id']);
      assert.equal(final['status'], 'cancelled');
      assert.equal(final['attempts'], 0);
      assert.equal(final['startedAt'], null);
      assert.deepEqual(final['attemptHistory'], []);
      assert.deepEqual((await states(task['id'])).map((s) => s.status), ['queued', 'cancelled']);
    });

    test('flaky: two failed attempts, each retried after its delay, then success on attempt 3', async () => {
      const task = await waitForFinal(url, (await submit(url, 'flaky', { n: 1 }))['id']);
      assert.equal(task['status'], 'succeeded', JSON.stringify(task));
      assert.deepEqual(task['output'], { n: 1 });
      assert.equal(task['attempts'], 3);
      assert.equal(task['maxAttempts'], 4);
      assert.equal(task['nextAttemptAt'], null);
      assert.deepEqual(history(task), [[1, 1, 'nonzero_exit'], [2, 1, 'nonzero_exit'], [3, 0, null]]);
      assertAttemptsInOrder(task);
      // Each container saw its own BERTH_ATTEMPT.
      assert.deepEqual(await Promise.all([1, 2, 3].map((n) => logs(task['id'], `?attempt=${n}`))), ['fail 1\n', 'fail 2\n', '']);
      // Between attempts the task was queued again with nextAttemptAt = the fixed 100 ms delay.
      assert.deepEqual((await states(task['id'])).map((s) => [s.status, s.attempts, s.delay_ms]), [
        ['queued', 0, null], ['running', 1, null], ['queued', 1, 100], ['running', 2, null], ['queued', 2, 100],
        ['running', 3, null], ['succeeded', 3, null],
      ]);
      assert.deepEqual(await containersOf(task['id']), []);
    });

    test('always-fails: failed after 1 + 2 retries with exponential delays', async () => {
      const task = await waitForFinal(url, (await submit(url, 'always-fails'))['id']);
      assert.equal(task['status'], 'failed');
      assert.equal(task['error']['code'], 'nonzero_exit');
      assert.equal(task['exitCode'], 2);
      assert.equal(task['attempts'], 3);
      assert.equal(task['maxAttempts'], 3);
      assert.deepEqual(history(task), [[1, 2, 'nonzero_exit'], [2, 2, 'nonzero_exit'], [3, 2, 'nonzero_exit']]);
      assertAttemptsInOrder(task);
      assert.deepEqual(await Promise.all([1, 2, 3].map((n) => logs(task['id'], `?attempt=${n}`))), ['attempt 1\n', 'attempt 2\n', 'attempt 3\n']);
      const recorded = await states(task['id']);
      assert.deepEqual(recorded.map((s) => s.status), ['queued', 'running', 'queued', 'running', 'queued', 'running', 'failed']);
      const [first, second] = recorded.filter((s) => s.delay_ms !== null).map((s) => s.delay_ms!);
      // 50 ms doubled per retry, with jitter over [½, 1½]×.
      assert.ok(first! >= 25 && first! <= 75, `first retry delay ${first} ms`);
      assert.ok(second! >= 50 && second! <= 150, `second retry delay ${second} ms`);
    });

    test('not-json-retried: invalid output is never retried', async () => {
      const task = await waitForFinal(url, (await submit(url, 'not-json-retried'))['id']);
      assert.equal(task['status'], 'failed');
      assert.equal(task['error']['code'], 'invalid_output');
      assert.equal(task['attempts'], 1);
      assert.equal(task['maxAttempts'], 4);
      assert.deepEqual(history(task), [[1, 0, 'invalid_output']]);
      assert.deepEqual((await states(task['id'])).map((s) => s.status), ['queued', 'running', 'failed']);
    });

    test('GET ?wait=N answers with the task as soon as it is final', async () => {
      const task = await submit(url, 'sleep-short', { waited: true });
      // Far below the 120 s asked for: the answer must come when the task ends, not at the deadline.
      const response = await fetch(`${url}/tasks/${task['id']}?wait=120`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(response.status, 200);
      const final = await response.json() as Json;
      assert.equal(final['status'], 'succeeded', JSON.stringify(final));
      assert.deepEqual(final['output'], { waited: true });
    });

    test('POST with Prefer: wait → 200 with the finished task; cancelling it then → 409 naming succeeded', async () => {
      const response = await post({ runner: 'echo', input: { prefer: 1 } }, { prefer: 'wait=60' });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('preference-applied'), 'wait=60');
      const task = await response.json() as Json;
      assert.equal(response.headers.get('location'), `/tasks/${task['id']}`);
      assert.equal(task['status'], 'succeeded');
      assert.deepEqual(task['output'], { prefer: 1 });
      const refused = await cancel(task['id']);
      assert.equal(refused.status, 409);
      const error = await refused.json() as Json;
      assert.equal(error['code'], 'TASK_FINISHED');
      assert.match(error['message'], /\bsucceeded\b/);
      assert.equal((await getTask(task['id']))['status'], 'succeeded');
    });

    test('POST with Prefer: wait shorter than the task → 202 with the task as it is', async () => {
      const response = await post({ runner: 'sleeper' }, { prefer: 'respond-async, wait=1' });
      assert.equal(response.status, 202);
      assert.equal(response.headers.get('preference-applied'), 'wait=1');
      const task = await response.json() as Json;
      assert.ok(['queued', 'running'].includes(task['status']), task['status']);
      assert.equal((await cancel(task['id'])).status, 200);
      await untilNoContainer(task['id']);
    });

    test('follow: stderr streams while the task runs, and the stream ends with the task', async () => {
      const task = await submit(url, 'chatty');
      const response = await fetch(`${url}/tasks/${task['id']}/logs?follow=true`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(response.status, 200);
      assert.match(String(response.headers.get('content-type')), /^text\/plain/);
      assert.equal(response.headers.get('transfer-encoding'), 'chunked');
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      let statusAtFirstLine: string | undefined;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        if (statusAtFirstLine === undefined && text.includes('line 1\n')) {
          assert.ok(!text.includes('line 4'), `the first line must come before the last is written: ${JSON.stringify(text)}`);
          statusAtFirstLine = (await getTask(task['id']))['status'];
        }
      }
      assert.equal(statusAtFirstLine, 'running', 'the first line arrives while the task still runs');
      assert.equal(text, 'line 1\nline 2\nline 3\nline 4\n');
      const final = await getTask(task['id']);
      assert.equal(final['status'], 'succeeded', 'the stream ended because the task did');
      assert.equal(await logs(task['id']), text, 'the stream equals the stored log');
    });

    test('follow: the stream goes on across retries, each attempt\'s stderr in turn', async () => {
      const task = await submit(url, 'flaky', { followed: true });
      const response = await fetch(`${url}/tasks/${task['id']}/logs?follow=true`, { signal: AbortSignal.timeout(60_000) });
      assert.equal(response.status, 200);
      assert.equal(await response.text(), 'fail 1\nfail 2\n');
      const final = await getTask(task['id']);
      assert.equal(final['status'], 'succeeded');
      assert.equal(final['attempts'], 3);
    });
  });
}
