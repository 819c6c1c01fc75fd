/**
 * The services under Berth going away and coming back, under one `berth start` process that is
 * never restarted: a private PostgreSQL stopped and started (the API answers 503 meanwhile and
 * recovers by itself; a result finished during the outage is recorded afterwards), and a private
 * Podman API service stopped and started (attempts fail with engine_error and are retried per
 * policy; the process stays up; a container running when the engine went away is not run twice).
 * Only these private services are stopped; the shared ones serve other test files.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { resolveEngineAddress } from '../../src/engine/engine-socket.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { startPrivatePodman, type PrivateEngine } from '../helpers/private-engine.ts';
import { prepareBerthDatabase, startPrivatePostgres, type PrivatePostgres } from '../helpers/private-postgres.ts';
import { until } from '../helpers/wait.ts';

const FAULT_RUNNERS = fileURLToPath(new URL('../fixtures/berth-faults.yaml', import.meta.url));

type Json = Record<string, any>;


const history = (task: Json) => task['attemptHistory'].map((a: Json) => [a['attempt'], a['exitCode'], a['error']?.['code'] ?? null]);
const uniqueInstance = (what: string) => `faults-${what}-${randomBytes(4).toString('hex')}`;
const dockerFor = (dockerHost: string): Docker => {
  const address = resolveEngineAddress(dockerHost);
  return new Docker(address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port });
};
const logLines = (process: BerthProcess): Json[] => process.output().split('\n').flatMap((line) => {
  if (!line.startsWith('{')) return [];
  try { return [JSON.parse(line) as Json]; } catch { return []; }
});

describe('PostgreSQL stopped and restarted under berth start', () => {
  const engineUnderTest = testEngines()[0]!;
  const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
  const instance = uniqueInstance('pg');
  let postgres: PrivatePostgres;
  let berth: BerthProcess;
  let url: string;

  before(async () => {
    postgres = await startPrivatePostgres();
    const databaseUrl = postgres.databaseUrl('berth_faults');
    await prepareBerthDatabase(databaseUrl);
    berth = spawnBerth(['start'], {
      DATABASE_URL: databaseUrl, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: FAULT_RUNNERS,
      BERTH_INSTANCE: instance, BERTH_LEASE: '2s',
    });
    url = String((await berth.waitForLog('berth is listening'))['url']);
  });

  after(async () => {
    await postgres?.start();
    if (berth !== undefined) assert.equal(await berth.stop('SIGTERM'), 0, berth.output());
    const left = await engine.listContainers({ 'berth.managed-by': instance });
    await engine.removeContainers({ 'berth.managed-by': instance });
    await postgres?.destroy();
    assert.deepEqual(left, [], 'no container may be left behind');
  });

  test('503 DATABASE_UNAVAILABLE while it is down; the same process recovers; results are recorded', async () => {
    // Running when the database goes down: one writes stderr during the outage, one does not.
    const quiet = await submit(url, 'slow-quiet', { submitted: 'before the outage', stderr: false });
    const chatty = await submit(url, 'slow-echo', { submitted: 'before the outage', stderr: true });
    const delayed = await (await fetch(`${url}/tasks`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ runner: 'echo', input: { submitted: 'before the outage, due during it' }, delay: 2 }),
    })).json() as Json;
    for (const task of [quiet, chatty]) {
      await waitForStatus(url, task['id'], 'running');
      await until('the running task\'s container', async () =>
        ((await engine.listContainers({ 'berth.task-id': task['id'] })).length > 0 ? true : undefined));
    }

    await postgres.stop();

    const read = await fetch(`${url}/tasks/${quiet['id']}`);
    assert.equal(read.status, 503);
    const readError = await read.json() as Json;
    assert.equal(readError['code'], 'DATABASE_UNAVAILABLE');
    assert.match(readError['message'], /database is unavailable/);
    const post = await fetch(`${url}/tasks`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runner: 'echo', input: 1 }),
    });
    assert.equal(post.status, 503);
    assert.equal((await post.json() as Json)['code'], 'DATABASE_UNAVAILABLE');
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match((await ready.json() as Json)['message'], /database unreachable/);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);

    // Both containers finish (and are removed) while the database is down; their results wait.
    for (const task of [quiet, chatty]) {
      await until('the running task\'s container to finish', async () =>
        ((await engine.listContainers({ 'berth.task-id': task['id'] })).length === 0 ? true : undefined));
      await until('the worker to retry recording the result', async () =>
        (logLines(berth).some((l) => l['msg'] === 'database unavailable; retrying to record the result' && l['taskId'] === task['id'])
          ? true : undefined));
    }
    assert.equal((await fetch(`${url}/tasks/${quiet['id']}`)).status, 503, 'still down');

    await postgres.start();

    await until('GET /tasks/{id} to answer 200 again', async () => ((await fetch(`${url}/tasks/${quiet['id']}`)).status === 200 ? true : undefined));
    await until('/readyz to answer 200 again', async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined));
    assert.equal(berth.child.exitCode, null, 'the same process, never restarted');

    const late = await submit(url, 'echo', { submitted: 'after the outage' });
    const final = new Map<string, Json>();
    for (const task of [quiet, chatty, delayed, late]) final.set(task['id'], await waitForFinal(url, task['id']));
    for (const task of [delayed, late, quiet]) {
      const done = final.get(task['id'])!;
      assert.equal(done['status'], 'succeeded', JSON.stringify(done));
      assert.deepEqual(done['output'], task['input']);
      assert.deepEqual(history(done), [[1, 0, null]], 'the result was recorded, not lost and run again');
    }
    assert.deepEqual(await engine.listContainers({ 'berth.managed-by': instance }), []);

    // stderr written during the outage could not be stored live; the whole log is stored with the result.
    const recorded = final.get(chatty['id'])!;
    assert.equal(recorded['status'], 'succeeded', JSON.stringify(recorded));
    assert.deepEqual(recorded['output'], chatty['input']);
    assert.deepEqual(history(recorded), [[1, 0, null]], 'the result was recorded, not lost and run again');
    assert.equal(await (await fetch(`${url}/tasks/${chatty['id']}/logs`)).text(), 'started\nfinished\n');
  });
});

describe('the engine stopped and restarted under berth start (private Podman service)', () => {
  // The private service shares podman's storage: the shared socket sees its containers even while it is down.
  const observer = dockerFor(testEngines({ ...process.env, BERTH_TEST_ENGINES: 'podman' })[0]!.dockerHost);
  const instances: string[] = [];
  const spawned: BerthProcess[] = [];
  let podman: PrivateEngine;
  let database: TestDatabase;

  const startBerth = async (instance: string): Promise<{ berth: BerthProcess; url: string }> => {
    instances.push(instance);
    const berth = spawnBerth(['start'], {
      DATABASE_URL: database.url, DOCKER_HOST: podman.dockerHost, PORT: '0', BERTH_CONFIG: FAULT_RUNNERS, BERTH_INSTANCE: instance,
    });
    spawned.push(berth);
    return { berth, url: String((await berth.waitForLog('berth is listening'))['url']) };
  };
  const containers = async (labels: Record<string, string>) =>
    observer.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });

  before(async () => {
    podman = await startPrivatePodman();
    database = await createTestDatabase();
  });

  after(async () => {
    await podman?.start();
    for (const p of spawned) await p.stop('SIGKILL');
    const left = (await Promise.all(instances.map((i) => containers({ 'berth.managed-by': i })))).flat();
    for (const c of left) await observer.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await podman?.destroy();
    await database?.drop();
    assert.deepEqual(left.map((c) => c.Names[0]), [], 'no container may be left behind');
  });

  test('engine down: attempts fail with engine_error and are retried per policy; the process stays up; then success', async () => {
    const instance = uniqueInstance('engine');
    const { berth, url } = await startBerth(instance);

    await podman.stop();

    const exhausted = await waitForFinal(url, (await submit(url, 'engine-retried', 'x'))['id']);
    assert.equal(exhausted['status'], 'failed', JSON.stringify(exhausted));
    assert.equal(exhausted['error']['code'], 'engine_error');
    assert.deepEqual(history(exhausted), [[1, null, 'engine_error'], [2, null, 'engine_error'], [3, null, 'engine_error']]);

    const patient = await submit(url, 'patient', { waited: 'for the engine' });
    await until('two failed attempts of the patient task', async () => {
      const task = await (await fetch(`${url}/tasks/${patient['id']}`)).json() as Json;
      return task['attemptHistory'].filter((a: Json) => a['error']?.['code'] === 'engine_error').length >= 2 ? true : undefined;
    });
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    assert.match((await ready.json() as Json)['message'], /container engine unreachable/);
    assert.equal(berth.child.exitCode, null);

    await podman.start();

    const recovered = await waitForFinal(url, patient['id'], 60_000);
    assert.equal(recovered['status'], 'succeeded', JSON.stringify(recovered));
    assert.deepEqual(recovered['output'], { waited: 'for the engine' });
    const attempts = history(recovered);
    assert.ok(attempts.length >= 3, JSON.stringify(attempts));
    assert.deepEqual(attempts.at(-1).slice(1), [0, null]);
    for (const a of attempts.slice(0, -1)) assert.equal(a[2], 'engine_error', JSON.stringify(attempts));

    const fresh = await waitForFinal(url, (await submit(url, 'echo', { engine: 'back' }))['id']);
    assert.equal(fresh['status'], 'succeeded', JSON.stringify(fresh));
    assert.deepEqual(history(fresh), [[1, 0, null]]);
    assert.deepEqual(await containers({ 'berth.managed-by': instance }), []);
    assert.equal(await berth.stop('SIGTERM'), 0, berth.output());
  });

  // Seen with Podman 4: the attach stream ends as if the container had finished, reading its exit
  // status and removing it both fail (engine unreachable), and the attempt is recorded as
  // engine_error at once and retried per policy — while its container, which conmon keeps running
  // without the service, is only removed by the orphan sweep (every minute) once the engine is back.
  test('engine stopped while a container runs: the task ends within a deadline, never running twice at once', async () => {
    const instance = uniqueInstance('engine-running');
    const { berth, url } = await startBerth(instance);
    const task = await submit(url, 'long-retried', { still: 'here' });
    const ofTask = { 'berth.task-id': task['id'] };
    // Every container of the task that is running, as often as the (shared) engine answers.
    let stopped = false;
    let most = 0;
    let worst: string[] = [];
    const seen = new Set<string>();
    let failure: unknown;
    const watching = (async () => {
      while (!stopped) {
        const live = (await containers(ofTask)).filter((c) => c.State === 'running');
        for (const c of live) seen.add(c.Names[0]!.replace(/^\//, ''));
        if (live.length > most) { most = live.length; worst = live.map((c) => c.Names[0]!); }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })().catch((error: unknown) => { failure = error; });
    try {
      await until('the first attempt\'s container to run', async () => (seen.size > 0 ? true : undefined));

      await podman.stop();

      // Berth must notice: the attempt ends, or the worker reports the engine gone; it must not hang.
      await until('the worker to notice the engine is gone', async () => {
        if (logLines(berth).some((l) => l['msg'] === 'container engine failed' && l['taskId'] === task['id'])) return true;
        const current = await (await fetch(`${url}/tasks/${task['id']}`)).json() as Json;
        return current['attemptHistory'][0]?.['finishedAt'] ? true : undefined;
      });
      assert.equal((await fetch(`${url}/healthz`)).status, 200);

      await podman.start();

      const final = await waitForFinal(url, task['id'], 90_000);
      assert.equal(final['status'], 'succeeded', JSON.stringify(final));
      assert.deepEqual(final['output'], { still: 'here' });
      const attempts = history(final);
      assert.deepEqual(attempts.at(-1).slice(1), [0, null], JSON.stringify(attempts));
      for (const a of attempts.slice(0, -1)) assert.equal(a[2], 'engine_error', JSON.stringify(attempts));
      // Containers of attempts that are not live are swept every minute.
      await until('no container of the task left', async () => ((await containers(ofTask)).length === 0 ? true : undefined), 90_000);
    } finally {
      stopped = true;
      await watching;
    }
    assert.equal(failure, undefined, 'listing the task\'s containers failed');
    assert.deepEqual(await containers({ 'berth.managed-by': instance }), []);
    assert.equal(await berth.stop('SIGTERM'), 0, berth.output());
    assert.ok(seen.has(`berth-${task['id']}-1`), 'the first attempt\'s container was watched');
    assert.equal(most, 1, `two containers of one task ran at once: ${worst.join(', ')}`);
  });
});
