/**
 * The worker as a separate process: several workers share one database without running a task
 * twice, and SIGTERM drains — running tasks get the grace period, then their containers are killed
 * and removed and the tasks go back to the queue; the process exits 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, queryDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { FIXTURE_RUNNERS } from '../helpers/stack.ts';

for (const engineUnderTest of testEngines()) {
  describe(`worker processes on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let api: BerthProcess;
    let url: string;
    const env = (): Record<string, string> => ({
      DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: FIXTURE_RUNNERS,
      BERTH_INSTANCE: database.name,
    });

    before(async () => {
      database = await createTestDatabase();
      api = spawnBerth(['serve'], env());
      url = String((await api.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      assert.equal(await api?.stop('SIGTERM'), 0, api?.output());
      await database?.drop();
    });

    test('two workers share the queue; every task runs exactly once', async () => {
      const workers = [0, 1].map(() => spawnBerth(['worker'], { ...env(), BERTH_WORKER_CONCURRENCY: '2' }));
      await Promise.all(workers.map((w) => w.waitForLog('worker started')));
      const submitted = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(url, 'sleep-short', { i })));
      const tasks = await Promise.all(submitted.map((t) => waitForFinal(url, t['id'])));
      for (const [i, task] of tasks.entries()) {
        assert.equal(task['status'], 'succeeded', JSON.stringify(task));
        assert.deepEqual(task['output'], { i });
        assert.equal(task['attempts'], 1);
      }
      // Stopped first: a task is final before its worker logs 'attempt finished', and the log is written asynchronously.
      for (const w of workers) assert.equal(await w.stop('SIGTERM'), 0, w.output());
      const finishedBy = workers.map((w) => (w.output().match(/"msg":"attempt finished"/g) ?? []).length);
      assert.equal(finishedBy[0]! + finishedBy[1]!, 8, 'each task finished by exactly one worker');
    });

    test('SIGTERM: grace, then the running container is killed and removed and the task queued again', async () => {
      const worker = spawnBerth(['worker'], { ...env(), BERTH_SHUTDOWN_GRACE: '1' });
      await worker.waitForLog('worker started');
      const task = await submit(url, 'sleeper');
      await waitForStatus(url, task['id'], 'running');
      const deadline = Date.now() + 20_000;
      while ((await engine.listContainers({ 'berth.task-id': task['id'] })).length === 0) {
        assert.ok(Date.now() < deadline, 'the container should have been created');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(await worker.stop('SIGTERM'), 0, worker.output());
      assert.deepEqual(await engine.listContainers({ 'berth.task-id': task['id'] }), []);
      const after = await (await fetch(`${url}/tasks/${task['id']}`)).json() as Record<string, unknown>;
      assert.equal(after['status'], 'queued');
      assert.equal(after['attempts'], 1);
      const rows = await queryDatabase<{ state: string }>(database.url,
        `select state from pgboss.job where name = 'berth-run-task' and data->>'taskId' = $1 order by created_on`, [task['id']]);
      assert.deepEqual(rows.map((r) => r.state), ['completed', 'created'], 'a fresh job waits for the requeued task');
    });
  });
}
