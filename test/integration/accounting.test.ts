/**
 * Accounting under chaos, on every engine under test: several hundred tasks are submitted while
 * workers are killed (SIGKILL) and stopped (SIGTERM) and started again and PostgreSQL is
 * restarted. Afterwards every task the API accepted (202) exists and ends, none ran two attempts
 * at once, a limited runner never ran above its limit, and no container is left.
 *
 * The database is a private server (test/helpers/private-postgres.ts), so restarting it disturbs
 * no other test file. Submissions refused while it is down (503) are simply not counted: a 503
 * queued nothing, which is what the API promises.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, type BerthProcess } from '../helpers/berth-process.ts';
import { queryDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { prepareBerthDatabase, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.ts';
import { until } from '../helpers/wait.ts';

const RUNNERS = fileURLToPath(new URL('../fixtures/accounting-runners.yaml', import.meta.url));
const BATCHES = 8;
const BATCH_SIZE = 40;

type Json = Record<string, any>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const engineUnderTest of testEngines()) {
  describe(`accounting under chaos on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    const instance = `berth-accounting-${engineUnderTest.name}-${process.pid}`;
    let postgres: PrivatePostgres;
    let databaseUrl: string;
    let api: BerthProcess;
    let url: string;
    const workers: BerthProcess[] = [];
    const env = (): Record<string, string> => ({
      DATABASE_URL: databaseUrl, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: RUNNERS,
      BERTH_INSTANCE: instance, BERTH_LEASE: '2s', BERTH_WORKER_CONCURRENCY: '3', BERTH_SHUTDOWN_GRACE: '1s',
    });
    const startWorker = async (): Promise<BerthProcess> => {
      const worker = spawnBerth(['worker'], env());
      workers.push(worker);
      await worker.waitForLog('worker started', 60_000);
      return worker;
    };

    before(async () => {
      postgres = await startPrivatePostgres();
      databaseUrl = postgres.databaseUrl('berth_accounting');
      await prepareBerthDatabase(databaseUrl);
      api = spawnBerth(['serve'], env());
      url = String((await api.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      await postgres?.start();
      for (const worker of workers) await worker.stop('SIGTERM');
      if (api !== undefined) await api.stop('SIGTERM');
      const left = await engine.listContainers({ 'berth.managed-by': instance });
      await engine.removeContainers({ 'berth.managed-by': instance });
      await postgres?.destroy();
      assert.deepEqual(left, [], 'no container may be left behind');
    });

    test('every accepted task ends, none ran twice at once, the limit held, no container is left', async () => {
      const [first, second] = [await startWorker(), await startWorker()];
      const accepted: string[] = [];
      let refused = 0;
      const submitBatch = async (n: number): Promise<void> => {
        const tasks = Array.from({ length: BATCH_SIZE }, (_, i) => ({ runner: i % 5 === 0 ? 'limited' : 'work', input: { batch: n, i } }));
        const response = await fetch(`${url}/tasks/batch`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tasks }),
        }).catch(() => undefined);
        if (response?.status === 202) accepted.push(...((await response.json()) as Json)['tasks'].map((t: Json) => t['id']));
        else refused += 1;
      };
      const chaos = (async () => {
        await sleep(1_500);
        first.child.kill('SIGKILL');
        await sleep(1_000);
        await startWorker();
        await second.stop('SIGTERM');
        await startWorker();
        await sleep(1_000);
        await postgres.stop();
        await sleep(3_000);
        await postgres.start();
        await sleep(1_500);
        workers.at(-1)!.child.kill('SIGKILL');
        await startWorker();
      })();
      for (let n = 0; n < BATCHES; n += 1) {
        await submitBatch(n);
        await sleep(700);
      }
      await chaos;
      assert.ok(accepted.length >= BATCH_SIZE * (BATCHES - 3), `most batches must have been accepted (${refused} refused)`);

      const finals = await until('every accepted task final', async () => {
        const rows = await queryDatabase<{ id: string; status: string }>(databaseUrl,
          `select id, status from berth.tasks where id = any($1::uuid[])`, [accepted]);
        assert.equal(rows.length, accepted.length, 'every task answered with 202 exists');
        return rows.every((r) => ['succeeded', 'failed', 'cancelled'].includes(r.status)) ? rows : undefined;
      }, 240_000);
      const failed = finals.filter((r) => r.status !== 'succeeded');
      assert.deepEqual(failed, [], 'every task succeeds in the end (each has retries to spare for its lost attempts)');

      // No two attempts of a task overlap: each began after the one before it had ended.
      const overlaps = await queryDatabase<Json>(databaseUrl,
        `select a.task_id, a.attempt, a.started_at, b.finished_at as previous_finished_at
           from berth.task_attempts a join berth.task_attempts b on b.task_id = a.task_id and b.attempt = a.attempt - 1
          where b.finished_at is null or a.started_at < b.finished_at`);
      assert.deepEqual(overlaps, [], 'no task ran two attempts at once');
      const open = await queryDatabase<Json>(databaseUrl,
        `select task_id, attempt from berth.task_attempts where finished_at is null and task_id = any($1::uuid[])`, [accepted]);
      assert.deepEqual(open, [], 'every attempt is closed');

      // The limited runner's attempts, as intervals: never more than 2 at once.
      const limited = await queryDatabase<{ started_at: Date; finished_at: Date }>(databaseUrl,
        `select a.started_at, a.finished_at from berth.task_attempts a join berth.tasks t on t.id = a.task_id
          where t.runner = 'limited'`);
      const edges = limited.flatMap((a) => [[a.started_at.getTime(), 1], [a.finished_at.getTime(), -1]] as const)
        .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      let runningNow = 0;
      for (const [, delta] of edges) {
        runningNow += delta;
        assert.ok(runningNow <= 2, 'the limited runner ran more than 2 attempts at once');
      }

      for (const worker of workers) await worker.stop('SIGTERM');
      assert.deepEqual(await engine.listContainers({ 'berth.managed-by': instance }), [], 'no container is left');
    });
  });
}
