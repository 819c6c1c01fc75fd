/**
 * A fan-in runs its aggregator exactly once, however its parents finish: 20 parents and one
 * aggregator, 20 runs at once on two workers, so parents of one run finish at the same instant on
 * different workers; and partway through one worker is killed (SIGKILL, perhaps mid-settle) and
 * another started, so some parents are retried after their worker is found lost. Every run must
 * end with exactly one aggregator task that saw all 20 parents succeed, and no container left.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';

const PARENTS = 20;
const RUNS = 20;
const parentIds = Array.from({ length: PARENTS }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);

// The parents retry, so a parent whose worker was killed under it runs again and succeeds.
const CONFIG = `
runners:
  echo:
    image: berth-test/busybox:1
    command: ["cat"]
    retries: {limit: 3, delay: 1s}
workflows:
  fan-in:
    steps:
${parentIds.map((id) => `      ${id}: {runner: echo, input: {n: /input/n}}`).join('\n')}
      gather: {runner: echo, needs: [${parentIds.join(', ')}]}
`;

type Json = Record<string, any>;

for (const engineUnderTest of testEngines()) {
  describe(`fan-in exactly once on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let dir: string;
    let api: BerthProcess;
    let url: string;
    const workers: BerthProcess[] = [];
    const env = (): Record<string, string> => ({
      DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: path.join(dir, 'berth.yaml'),
      BERTH_INSTANCE: database.name, BERTH_LEASE: '2s', BERTH_WORKER_CONCURRENCY: '4',
    });
    const startWorker = async (): Promise<BerthProcess> => {
      const worker = spawnBerth(['worker'], env());
      workers.push(worker);
      await worker.waitForLog('worker started');
      return worker;
    };

    before(async () => {
      database = await createTestDatabase();
      dir = await mkdtemp(path.join(os.tmpdir(), 'berth-fan-in-'));
      await writeFile(path.join(dir, 'berth.yaml'), CONFIG);
      api = spawnBerth(['serve'], env());
      url = String((await api.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      for (const worker of workers) await worker.stop('SIGTERM');
      if (api !== undefined) assert.equal(await api.stop('SIGTERM'), 0, api.output());
      if (database !== undefined) {
        assert.deepEqual(await engine.listContainers({ 'berth.managed-by': database.name }), [], 'no container may be left behind');
        await database.drop();
      }
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    });

    test(`${RUNS} runs of ${PARENTS} parents and an aggregator on two workers, one killed partway: each aggregator runs once and sees every parent`, async () => {
      const first = await startWorker();
      await startWorker();
      const runs: string[] = [];
      for (let n = 0; n < RUNS; n += 1) {
        const response = await fetch(`${url}/workflows`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ workflow: 'fan-in', input: { n } }),
        });
        assert.equal(response.status, 202, await response.clone().text());
        runs.push(((await response.json()) as Json)['id']);
      }
      // Once some parents have finished, the first worker dies without a word, whatever it was doing.
      for (let i = 0; ; i += 1) {
        const [row] = await queryDatabase<{ n: number }>(database.url, `select count(*)::int as n from berth.tasks where status = 'succeeded'`);
        if (row!.n >= PARENTS * 3) break;
        assert.ok(i < 1200, 'parents never finished');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await first.stop('SIGKILL');
      workers.splice(workers.indexOf(first), 1);
      await startWorker();

      for (const [n, id] of runs.entries()) {
        let run: Json | undefined;
        for (let round = 0; round < 10 && run?.['status'] !== 'succeeded'; round += 1) {
          run = await (await fetch(`${url}/workflows/${id}?wait=30`)).json() as Json;
          if (run['status'] !== 'running') break;
        }
        assert.equal(run?.['status'], 'succeeded', `run ${n}: ${JSON.stringify(run)}`);
        const gathers = await queryDatabase<{ id: string; output: Json; attempts: number }>(database.url,
          `select id, output, attempts from berth.tasks where workflow_id = $1 and step_id = 'gather'`, [id]);
        assert.equal(gathers.length, 1, `run ${n}: the aggregator's task exists exactly once`);
        assert.equal(gathers[0]!.attempts, 1, `run ${n}: the aggregator ran once`);
        const parents = gathers[0]!.output['parents'] as Record<string, Json>;
        assert.deepEqual(Object.keys(parents).sort(), parentIds, `run ${n}: the aggregator saw every parent`);
        for (const [parent, seen] of Object.entries(parents)) {
          assert.equal(seen['status'], 'succeeded', `run ${n}: ${parent}`);
          assert.deepEqual(seen['output'], { n }, `run ${n}: ${parent}'s own output`);
        }
        const [recorded] = await queryDatabase<{ n: number }>(database.url,
          `select count(*)::int as n from berth.workflow_step_parents where run_id = $1 and step_id = 'gather'`, [id]);
        assert.equal(recorded!.n, PARENTS, `run ${n}: one completion row per parent`);
      }
      // A precondition of the test, not of the outcome: the kill hit attempts in flight, which were taken back and retried.
      const [reclaimed] = await queryDatabase<{ n: number }>(database.url,
        `select count(*)::int as n from berth.task_attempts where error_code = 'engine_error'`);
      assert.ok(reclaimed!.n >= 1, 'the killed worker had no attempt in flight');
    });
  });
}
