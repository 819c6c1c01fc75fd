/**
 * Berth end to end, as a user runs it: `berth start` in a child process against a real database
 * and a real engine — for every engine under test. Each outcome a task can have is produced for
 * real, and after each one no container of that task is left behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, waitForFinal, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { FIXTURE_RUNNERS } from '../helpers/stack.ts';

for (const engineUnderTest of testEngines()) {
  describe(`end to end on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let berth: BerthProcess;
    let url: string;

    before(async () => {
      database = await createTestDatabase();
      berth = spawnBerth(['start', '--config', FIXTURE_RUNNERS], {
        DATABASE_URL: database.url,
        DOCKER_HOST: engineUnderTest.dockerHost,
        PORT: '0',
        BERTH_INSTANCE: database.name,
        BERTH_TEST_GREETING: 'hi from env',
      });
      url = String((await berth.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      const code = await berth?.stop('SIGTERM');
      assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
      await database?.drop();
    });

    async function run(runner: string, input?: unknown) {
      const task = await waitForFinal(url, (await submit(url, runner, input)).id);
      assert.deepEqual(await engine.listContainers({ 'berth.task-id': task['id'] }), [], 'container must be removed');
      return task;
    }

    async function logs(id: string): Promise<string> {
      return (await fetch(`${url}/tasks/${id}/logs`)).text();
    }

    test('echo: the input comes back as the output', async () => {
      const task = await run('echo', { hello: 'world' });
      assert.equal(task['status'], 'succeeded', JSON.stringify(task));
      assert.deepEqual(task['output'], { hello: 'world' });
      assert.equal(task['exitCode'], 0);
      assert.equal(task['attempts'], 1);
      assert.equal(task['error'], null);
      assert.ok(Date.parse(task['startedAt']) <= Date.parse(task['finishedAt']));
    });

    test('stdin holds exactly the JSON text of the input and one newline', async () => {
      const input = { b: 'ünï😀', a: [1, 2.5, -3e-7, null, true], nested: { q: '"quoted"\\', empty: {} } };
      const task = await run('text-echo', input);
      assert.equal(task['status'], 'succeeded', JSON.stringify(task));
      assert.equal(task['output'], `${JSON.stringify(input)}\n`);
    });

    test('a task is picked up at once, woken by its job\'s NOTIFY, not by the 2 s poll', async () => {
      // Each submitted when the worker is idle: polling alone would leave each waiting 1 s on average.
      for (let i = 0; i < 5; i++) {
        const task = await run('echo', { i });
        const waitedMs = Date.parse(task['startedAt']) - Date.parse(task['createdAt']);
        assert.ok(waitedMs < 1_000, `task ${i} waited ${waitedMs} ms for a worker`);
      }
    });

    test('non-zero exit → failed nonzero_exit with the exit code and stderr tail', async () => {
      const task = await run('fail');
      assert.equal(task['status'], 'failed');
      assert.equal(task['error'].code, 'nonzero_exit');
      assert.equal(task['exitCode'], 3);
      assert.match(task['error'].message, /code 3.*boom/s);
      assert.equal(await logs(task['id']), 'boom\n');
    });

    test('stdout that is not JSON → failed invalid_output quoting its start', async () => {
      const task = await run('not-json');
      assert.equal(task['error'].code, 'invalid_output');
      assert.match(task['error'].message, /not json/);
    });

    test('stdout over the limit → failed output_too_large', async () => {
      const task = await run('big-output');
      assert.equal(task['error'].code, 'output_too_large', JSON.stringify(task['error']));
    });

    test('timeout → container killed, failed timeout', async () => {
      const task = await run('slow');
      assert.equal(task['error'].code, 'timeout');
      assert.match(task['error'].message, /1s/);
    });

    test('a runner with no sandbox settings runs as 65534 on a read-only root, under an init, with nofile 1024', async () => {
      const task = await run('sandbox');
      assert.equal(task['status'], 'succeeded', JSON.stringify(task));
      assert.deepEqual(task['output'], {
        uid: 65534, gid: 65534, rootWritable: false, pid1: `${engineUnderTest.name}-init`, nofile: 1024,
      });
    });

    test('over its memory limit → failed oom naming the limit, and not retried', async () => {
      const task = await run('memory-hog');
      assert.equal(task['status'], 'failed');
      assert.equal(task['error'].code, 'oom', JSON.stringify(task['error']));
      assert.match(task['error'].message, /memory limit of 32 MiB/);
      assert.equal(task['exitCode'], 137);
      assert.equal(task['attempts'], 1);
    });

    test('a fork bomb is held by the pid limit; the worker goes on with the next task', async () => {
      const bomb = await submit(url, 'fork-bomb');
      const next = await submit(url, 'echo', { after: 'bomb' });
      const [bombed, echoed] = await Promise.all([waitForFinal(url, bomb.id), waitForFinal(url, next.id)]);
      assert.equal(bombed['status'], 'failed');
      assert.ok(['timeout', 'nonzero_exit'].includes(bombed['error'].code), JSON.stringify(bombed['error']));
      assert.ok(Date.parse(bombed['finishedAt']) - Date.parse(bombed['startedAt']) < 10_000, JSON.stringify(bombed));
      assert.match(await logs(bomb.id), /can't fork/);
      assert.equal(echoed['status'], 'succeeded', JSON.stringify(echoed));
      assert.deepEqual(echoed['output'], { after: 'bomb' });
      assert.equal((await run('echo', 'still here'))['output'], 'still here');
      assert.deepEqual(await engine.listContainers({ 'berth.task-id': bomb.id }), [], 'container must be removed');
    });

    test('missing image → failed engine_error naming the image', async () => {
      const task = await run('missing-image');
      assert.equal(task['error'].code, 'engine_error');
      assert.match(task['error'].message, /berth-test\/does-not-exist/);
    });

    test('the container sees BERTH_TASK_ID, BERTH_RUNNER and the runner env', async () => {
      const task = await run('env');
      assert.deepEqual(task['output'], { task: task['id'], runner: 'env', greeting: 'hi from env' });
    });

    test('no network by default: only the loopback interface', async () => {
      const task = await run('network');
      assert.equal(task['output'], 'lo');
    });

    test('stderr is the task log; stdout the result', async () => {
      const task = await run('stderr');
      assert.deepEqual(task['output'], { ok: true });
      assert.equal(await logs(task['id']), 'line1\nline2\n');
    });

    test('several tasks at once all finish', async () => {
      const submitted = await Promise.all(Array.from({ length: 6 }, (_, i) => submit(url, 'echo', { i })));
      const tasks = await Promise.all(submitted.map((t) => waitForFinal(url, t['id'])));
      assert.deepEqual(tasks.map((t) => t['output']), submitted.map((_, i) => ({ i })));
    });
  });
}
