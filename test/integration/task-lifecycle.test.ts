/**
 * The lifecycle's promises that no task is left without a way forward, with real processes on
 * every engine under test: a claim the database refuses is tried again; output PostgreSQL cannot
 * keep as it was written still ends the task at once, in one attempt; a runner at its concurrency
 * limit parks its waiting tasks instead of churning jobs; and a second deployment on another
 * database, sharing the engine, never takes this one's containers for orphans.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';

const RUNNERS = fileURLToPath(new URL('../fixtures/lifecycle-runners.yaml', import.meta.url));

type Json = Record<string, any>;

/**
 * Test instrumentation: the first claim of a task whose input mentions "refuse-claim" fails, as a
 * claim does when the database restarts between the job's fetch and the claim. A sequence, not a
 * table, counts the failures: the failing statement's own writes are rolled back.
 */
const REFUSE_FIRST_CLAIM = `
  create sequence public.refused_claims;
  create function public.refuse_first_claim() returns trigger language plpgsql as $$
  begin
    if old.status = 'queued' and new.status = 'running' and new.input::text like '%refuse-claim%'
       and nextval('public.refused_claims') = 1 then
      raise exception 'claim refused by the test';
    end if;
    return new;
  end $$;
  create trigger refuse_first_claim before update on berth.tasks
    for each row execute function public.refuse_first_claim();`;

const deploymentLabel = async (database: TestDatabase): Promise<string> => {
  const [row] = await queryDatabase<{ id: string }>(database.url, 'select id from berth.deployment');
  return `berth-${row!.id.replaceAll('-', '').slice(0, 16)}`;
};

for (const engineUnderTest of testEngines()) {
  describe(`task lifecycle guarantees on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let berth: BerthProcess;
    let url: string;
    // No BERTH_INSTANCE: the label comes from the database, as in production.
    const env = (db: TestDatabase): Record<string, string> => ({
      DATABASE_URL: db.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: RUNNERS, BERTH_LEASE: '2s',
    });

    before(async () => {
      database = await createTestDatabase();
      await queryDatabase(database.url, REFUSE_FIRST_CLAIM);
      berth = spawnBerth(['start'], env(database));
      url = String((await berth.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      if (berth !== undefined) assert.equal(await berth.stop('SIGTERM'), 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
      if (database !== undefined) {
        assert.deepEqual(await engine.listContainers({ 'berth.managed-by': await deploymentLabel(database) }), [], 'no container may be left behind');
        await database.drop();
      }
    });

    test('a claim the database refuses leaves the task a way forward: its job comes back and the task runs', async () => {
      const task = await submit(url, 'echo', { note: 'refuse-claim' });
      const final = await waitForFinal(url, task['id'], 60_000);
      assert.equal(final['status'], 'succeeded', JSON.stringify(final));
      assert.deepEqual(final['output'], { note: 'refuse-claim' });
      assert.equal(final['attempts'], 1, 'the refused claim started no attempt');
      const [refused] = await queryDatabase<{ n: string }>(database.url, `select last_value as n from public.refused_claims`);
      assert.ok(Number(refused!.n) >= 1, 'precondition: the first claim was refused');
    });

    test('a job that comes before its task is due comes back, and the task runs on time, once', async () => {
      const response = await fetch(`${url}/tasks`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runner: 'echo', input: 'later', delay: 3 }),
      });
      const task = await response.json() as Json;
      // Its only job made due at once, as a job left from a lost worker would be.
      const moved = await queryDatabase(database.url,
        `update pgboss.job set start_after = now() where name = 'berth-run-task' and data->>'taskId' = $1 returning id`, [task['id']]);
      assert.equal(moved.length, 1);
      const final = await waitForFinal(url, task['id'], 60_000);
      assert.deepEqual([final['status'], final['attempts'], final['output']], ['succeeded', 1, 'later'], JSON.stringify(final));
      assert.ok(Date.parse(final['startedAt']) >= Date.parse(task['runAfter']), `started ${final['startedAt']}, due ${task['runAfter']}`);
    });

    test('a NUL byte in text stdout is kept: the task succeeds at once, in one attempt', async () => {
      const final = await waitForFinal(url, (await submit(url, 'text-nul'))['id'], 30_000);
      assert.deepEqual([final['status'], final['attempts'], final['output']], ['succeeded', 1, 'a\u0000b'], JSON.stringify(final));
    });

    test('\\u0000 inside JSON output is kept exactly: the task succeeds at once, in one attempt', async () => {
      const input = { text: 'x\u0000y', nested: ['\u0000'] };
      const final = await waitForFinal(url, (await submit(url, 'echo', input))['id'], 30_000);
      assert.deepEqual([final['status'], final['attempts'], final['output']], ['succeeded', 1, input], JSON.stringify(final));
    });

    test('a NUL byte in stderr: the failure is recorded at once, its log keeps the exact bytes', async () => {
      const task = await submit(url, 'stderr-nul');
      const final = await waitForFinal(url, task['id'], 30_000);
      assert.deepEqual([final['status'], final['attempts'], final['error']?.['code']], ['failed', 1, 'nonzero_exit'], JSON.stringify(final));
      assert.match(final['error']['message'], /bad\\0byte/);
      const log = Buffer.from(await (await fetch(`${url}/tasks/${task['id']}/logs`)).arrayBuffer());
      assert.deepEqual(log, Buffer.from('bad\u0000byte'));
    });

    test('a runner at its concurrency limit parks what waits: no job churns, every task runs once, one at a time', async () => {
      const submitted = await Promise.all(Array.from({ length: 5 }, (_, i) => submit(url, 'limited', { i })));
      const tasks = await Promise.all(submitted.map((t) => waitForFinal(url, t['id'], 120_000)));
      tasks.forEach((task, i) => assert.deepEqual([task['status'], task['attempts'], task['output']], ['succeeded', 1, { i }]));
      const runs = tasks.map((t) => t['attemptHistory'][0]).sort((a: Json, b: Json) => Date.parse(a['startedAt']) - Date.parse(b['startedAt']));
      for (let i = 1; i < runs.length; i += 1) assert.ok(Date.parse(runs[i]['startedAt']) >= Date.parse(runs[i - 1]['finishedAt']), 'one at a time');
      // Each task has its submission's job and no other: a freed slot claims the next parked task for itself.
      const jobs = await queryDatabase<{ task_id: string; n: number }>(database.url,
        `select data->>'taskId' as task_id, count(*)::int as n from pgboss.job
          where name = 'berth-run-task' and data->>'taskId' = any($1) group by 1`, [submitted.map((t) => t['id'])]);
      assert.equal(jobs.length, 5);
      for (const { task_id, n } of jobs) assert.equal(n, 1, `task ${task_id} was handed ${n} jobs: a saturated runner must not churn jobs`);
    });

    test('a second deployment on another database, on the same engine, leaves this one\'s running container alone', async () => {
      const other = await createTestDatabase();
      let second: BerthProcess | undefined;
      try {
        const task = await submit(url, 'sleeper', { mine: true });
        await waitForStatus(url, task['id'], 'running');
        second = spawnBerth(['start'], env(other));
        await second.waitForLog('berth is listening');
        assert.notEqual(await deploymentLabel(other), await deploymentLabel(database), 'each database has its own deployment id');
        // The second deployment's sweeps run every few seconds (lease 2 s) while the task runs 8 s.
        const final = await waitForFinal(url, task['id'], 60_000);
        assert.deepEqual([final['status'], final['attempts'], final['output']], ['succeeded', 1, { mine: true }], JSON.stringify(final));
        assert.doesNotMatch(second.output(), /removed an orphaned container/);
      } finally {
        if (second !== undefined) assert.equal(await second.stop('SIGTERM'), 0, second.output());
        await other.drop();
      }
    });
  });
}
