/**
 * When tasks start, with real processes for every engine under test: a delayed task does not start
 * before its time, a higher priority overtakes a lower one waiting for the same limited runner, and
 * a runner's concurrency limit holds across several worker processes. Order is read from the
 * database's own timestamps (attemptHistory), never from how long things took.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { FIXTURE_RUNNERS } from '../helpers/stack.ts';

type Json = Record<string, any>;

const time = (iso: string): number => Date.parse(iso);

for (const engineUnderTest of testEngines()) {
  describe(`task scheduling on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let berth: BerthProcess;
    let url: string;
    const env = (): Record<string, string> => ({
      DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: FIXTURE_RUNNERS,
      BERTH_INSTANCE: database.name,
    });

    before(async () => {
      database = await createTestDatabase();
      berth = spawnBerth(['start'], env());
      url = String((await berth.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      if (berth !== undefined) assert.equal(await berth.stop('SIGTERM'), 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
      if (database !== undefined) {
        assert.deepEqual(await engine.listContainers({ 'berth.managed-by': database.name }), [], 'no container may be left behind');
        await database.drop();
      }
    });

    async function post(body: Json): Promise<Json> {
      const response = await fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal(response.status, 202, await response.clone().text());
      return response.json() as Promise<Json>;
    }

    /** One attempt, succeeded; its [start, end] from the database. */
    function ranOnce(task: Json): { start: number; end: number } {
      assert.equal(task['status'], 'succeeded', JSON.stringify(task));
      assert.equal(task['attemptHistory'].length, 1, JSON.stringify(task['attemptHistory']));
      const [attempt] = task['attemptHistory'] as Json[];
      return { start: time(attempt!['startedAt']), end: time(attempt!['finishedAt']) };
    }

    test('a delayed task does not start before its time (delay and startAfter)', async () => {
      const delayed = await post({ runner: 'echo', input: 'delay', delay: 2 });
      const scheduled = await post({ runner: 'echo', input: 'startAfter', startAfter: new Date(Date.now() + 2_000).toISOString() });
      for (const submitted of [delayed, scheduled]) {
        assert.ok(submitted['runAfter'] !== null, 'runAfter is set');
        const task = await waitForFinal(url, submitted['id']);
        assert.deepEqual(task['output'], submitted['input']);
        assert.equal(task['runAfter'], submitted['runAfter']);
        const { start } = ranOnce(task);
        assert.ok(start >= time(task['runAfter']), `attempt started at ${task['attemptHistory'][0]['startedAt']}, before runAfter ${task['runAfter']}`);
        assert.ok(time(task['startedAt']) >= time(task['runAfter']), `startedAt ${task['startedAt']} is before runAfter ${task['runAfter']}`);
      }
    });

    test('limited: a high-priority task submitted after a low-priority one, while a blocker runs, starts first', async () => {
      const blocker = await submit(url, 'limited', 'blocker');
      await waitForStatus(url, blocker['id'], 'running');
      const low = await post({ runner: 'limited', input: 'low', priority: -10 });
      const high = await post({ runner: 'limited', input: 'high', priority: 10 });
      const [b, l, h] = await Promise.all([blocker, low, high].map((t) => waitForFinal(url, t['id'])));
      const [blockerRun, lowRun, highRun] = [ranOnce(b!), ranOnce(l!), ranOnce(h!)];
      assert.ok(blockerRun.end > time(h!['createdAt']), 'precondition: the blocker was still running when both were submitted');
      assert.ok(time(l!['createdAt']) < time(h!['createdAt']), 'the low-priority task was submitted first');
      assert.ok(highRun.start < lowRun.start, `high started ${h!['startedAt']}, low ${l!['startedAt']}: high must start first`);
      assert.ok(highRun.start >= blockerRun.end && lowRun.start >= highRun.end, 'one at a time: concurrency 1');
    });

    test('limited: concurrency 1 holds across two worker processes', async () => {
      // `berth start` has one worker; a second process competes for the same queue.
      const worker = spawnBerth(['worker'], { ...env(), BERTH_WORKER_CONCURRENCY: '4' });
      try {
        await worker.waitForLog('worker started');
        const submitted = await Promise.all(Array.from({ length: 6 }, (_, i) => submit(url, 'limited', { i })));
        const tasks = await Promise.all(submitted.map((t) => waitForFinal(url, t['id'], 120_000)));
        tasks.forEach((task, i) => assert.deepEqual(task['output'], { i }));
        const runs = tasks.map(ranOnce).sort((a, b) => a.start - b.start);
        for (let i = 1; i < runs.length; i += 1) {
          assert.ok(runs[i]!.start >= runs[i - 1]!.end,
            `attempts overlap: ${JSON.stringify(tasks.map((t) => t['attemptHistory'][0]))}`);
        }
        for (const task of tasks) assert.deepEqual(await engine.listContainers({ 'berth.task-id': task['id'] }), []);
      } finally {
        assert.equal(await worker.stop('SIGTERM'), 0, `the second worker must exit 0 on SIGTERM; output:\n${worker.output()}`);
      }
    });
  });
}
