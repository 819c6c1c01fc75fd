/**
 * Workers dying and stopping under running tasks, for every engine under test (the shared engines:
 * only Berth processes are killed here). A worker killed with SIGKILL leaves its attempt `running`
 * and its container behind; a worker started afterwards takes the attempt back once its lease has
 * run out, removes the container first, then retries or fails the task per the runner's policy —
 * and at no moment do two containers of one task exist. A worker stopped with SIGTERM while
 * several tasks run kills every container and queues every task again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { resolveEngineAddress } from '../../src/engine/engine-socket.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { FIXTURE_RUNNERS } from '../helpers/stack.ts';
import { until } from '../helpers/wait.ts';

type Json = Record<string, any>;

const LEASE = '2s';


const history = (task: Json) => task['attemptHistory'].map((a: Json) => [a['attempt'], a['exitCode'], a['error']?.['code'] ?? null]);

/**
 * Lists one task's containers (every state) as often as the engine answers, until stopped: the most
 * that existed at once, and every container name seen, so a test can show it really watched.
 */
function watchTaskContainers(docker: Docker, taskId: string) {
  let stopped = false;
  let most = 0;
  let worst: string[] = [];
  const seen = new Set<string>();
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      const found = await docker.listContainers({ all: true, filters: { label: [`berth.task-id=${taskId}`] } });
      const names = found.map((c) => `${c.Names[0]?.replace(/^\//, '')} (${c.State})`);
      for (const c of found) seen.add(c.Names[0]?.replace(/^\//, '') ?? c.Id);
      if (found.length > most) { most = found.length; worst = names; }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })().catch((error: unknown) => { failure = error; });
  return {
    async stop(): Promise<{ most: number; worst: string[]; seen: Set<string> }> {
      stopped = true;
      await loop;
      if (failure !== undefined) throw new Error('listing the task\'s containers failed', { cause: failure });
      return { most, worst, seen };
    },
  };
}

for (const engineUnderTest of testEngines()) {
  describe(`worker faults on ${engineUnderTest.name}`, () => {
    const address = resolveEngineAddress(engineUnderTest.dockerHost);
    const docker = new Docker(address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port });
    let database: TestDatabase;
    let api: BerthProcess;
    let url: string;
    const spawned: BerthProcess[] = [];
    const env = (): Record<string, string> => ({
      DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: FIXTURE_RUNNERS,
      BERTH_INSTANCE: database.name,
    });
    const startWorker = async (extra: Record<string, string> = {}): Promise<BerthProcess> => {
      const worker = spawnBerth(['worker'], { ...env(), BERTH_LEASE: LEASE, ...extra });
      spawned.push(worker);
      await worker.waitForLog('worker started');
      return worker;
    };
    const getTask = async (id: string): Promise<Json> => (await fetch(`${url}/tasks/${id}`)).json() as Promise<Json>;
    const containers = async (labels: Record<string, string>) =>
      docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
    const ours = () => containers({ 'berth.managed-by': database.name });

    before(async () => {
      database = await createTestDatabase();
      api = spawnBerth(['serve'], env());
      url = String((await api.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      // Only processes a failed test left running; the tests stop their own and check the exit code.
      for (const p of spawned) await p.stop('SIGKILL');
      if (api !== undefined) assert.equal(await api.stop('SIGTERM'), 0, api.output());
      if (database === undefined) return;
      const left = await ours();
      for (const c of left) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      await database.drop();
      assert.deepEqual(left.map((c) => c.Names[0]), [], 'no container may be left behind');
    });

    /**
     * Starts a worker, submits a task, kills the worker with SIGKILL once the task's container is
     * running, and checks that nobody else has touched the orphaned attempt yet.
     */
    async function killWorkerMidTask(runner: string, input: unknown) {
      const doomed = await startWorker();
      const task = await submit(url, runner, input);
      const watcher = watchTaskContainers(docker, task['id']);
      await until('the first attempt\'s container to run', async () =>
        ((await containers({ 'berth.task-id': task['id'] })).some((c) => c.State === 'running') ? true : undefined));
      assert.equal(await doomed.stop('SIGKILL'), null);
      assert.equal(doomed.child.signalCode, 'SIGKILL');
      const orphaned = await containers({ 'berth.task-id': task['id'], 'berth.attempt': '1' });
      assert.equal(orphaned.length, 1, 'the killed worker\'s container outlives it');
      const stranded = await getTask(task['id']);
      assert.equal(stranded['status'], 'running', 'with no worker alive, nobody may take the attempt back');
      assert.equal(stranded['attempts'], 1);
      return { task, watcher };
    }

    test('SIGKILL mid-task: a worker started later removes the orphaned container, then retries the task', async () => {
      const { task, watcher } = await killWorkerMidTask('slow-retried', { survived: 'a killed worker' });
      const rescuer = await startWorker();
      // Lease 2 s: the rescuer judges others after a lease in touch, and a heartbeat a lease old.
      const final = await waitForFinal(url, task['id'], 60_000);
      const watched = await watcher.stop();

      assert.equal(final['status'], 'succeeded', JSON.stringify(final));
      assert.deepEqual(final['output'], { survived: 'a killed worker' });
      assert.equal(final['attempts'], 2);
      assert.deepEqual(history(final), [[1, null, 'engine_error'], [2, 0, null]]);
      assert.match(final['attemptHistory'][0]['error']['message'], /worker .* was lost/);
      assert.ok(Date.parse(final['attemptHistory'][1]['startedAt']) >= Date.parse(final['attemptHistory'][0]['finishedAt']));
      await rescuer.waitForLog('took back an attempt whose worker was lost');

      assert.deepEqual([...watched.seen].sort(), [`berth-${task['id']}-1`, `berth-${task['id']}-2`], 'both attempts\' containers were watched');
      assert.equal(watched.most, 1, `two containers of one task existed at once: ${watched.worst.join(', ')}`);
      assert.deepEqual(await containers({ 'berth.task-id': task['id'] }), []);
      assert.equal(await rescuer.stop('SIGTERM'), 0, rescuer.output());
      assert.deepEqual(await ours(), []);
    });

    test('SIGKILL mid-task with no retry left: the task fails with engine_error and its container is removed', async () => {
      const { task, watcher } = await killWorkerMidTask('sleeper', null);
      const rescuer = await startWorker();
      // The sleeper would run for 60 s: final well before that means its container was killed.
      const final = await waitForFinal(url, task['id'], 45_000);
      const watched = await watcher.stop();

      assert.equal(final['status'], 'failed', JSON.stringify(final));
      assert.equal(final['error']['code'], 'engine_error');
      assert.match(final['error']['message'], /worker .* was lost/);
      assert.equal(final['attempts'], 1);
      assert.equal(final['maxAttempts'], 1);
      assert.deepEqual(history(final), [[1, null, 'engine_error']]);
      assert.deepEqual([...watched.seen], [`berth-${task['id']}-1`]);
      assert.equal(watched.most, 1, watched.worst.join(', '));
      await until('the orphaned container to be removed', async () =>
        ((await containers({ 'berth.task-id': task['id'] })).length === 0 ? true : undefined));
      assert.equal(await rescuer.stop('SIGTERM'), 0, rescuer.output());
      assert.deepEqual(await ours(), []);
    });

    test('SIGTERM with three running tasks: every container removed, every task queued again; a new worker runs them', async () => {
      const worker = await startWorker({ BERTH_WORKER_CONCURRENCY: '3', BERTH_SHUTDOWN_GRACE: '1' });
      const tasks = await Promise.all([1, 2, 3].map((n) => submit(url, 'sleeper', { n })));
      for (const task of tasks) await waitForStatus(url, task['id'], 'running');
      await until('three running containers', async () =>
        ((await ours()).filter((c) => c.State === 'running').length === 3 ? true : undefined));

      assert.equal(await worker.stop('SIGTERM'), 0, worker.output());
      assert.deepEqual(await ours(), [], 'SIGTERM leaves no container');
      for (const task of tasks) {
        const requeued = await getTask(task['id']);
        assert.equal(requeued['status'], 'queued', JSON.stringify(requeued));
        assert.equal(requeued['attempts'], 1);
        assert.deepEqual(history(requeued), [[1, null, 'interrupted']]);
      }

      // The sleepers would run for a minute; the new worker's attempts are cancelled instead.
      const next = await startWorker({ BERTH_WORKER_CONCURRENCY: '3' });
      for (const task of tasks) {
        await until(`task ${task['id']} running its second attempt`, async () => {
          const t = await getTask(task['id']);
          return t['status'] === 'running' && t['attempts'] === 2 ? true : undefined;
        });
      }
      await until('three running containers of second attempts', async () =>
        ((await ours()).filter((c) => c.State === 'running' && c.Labels['berth.attempt'] === '2').length === 3 ? true : undefined));
      for (const task of tasks) {
        const response = await fetch(`${url}/tasks/${task['id']}/cancel`, { method: 'POST' });
        assert.equal(response.status, 200);
      }
      await until('every container removed', async () => ((await ours()).length === 0 ? true : undefined));
      for (const task of tasks) {
        const final = await getTask(task['id']);
        assert.equal(final['status'], 'cancelled');
        assert.deepEqual(history(final), [[1, null, 'interrupted'], [2, null, 'cancelled']]);
      }
      assert.equal(await next.stop('SIGTERM'), 0, next.output());
      assert.deepEqual(await ours(), []);
    });
  });
}
