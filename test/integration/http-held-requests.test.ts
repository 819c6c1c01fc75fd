/**
 * Requests Berth holds on purpose, over real sockets: `berth start` in a child process, a task
 * that is silent for 70 s — longer than the API's 60 s socket inactivity timeout — and clients that
 * wait for it (`Prefer: wait`, `?wait=`) or follow its log. Each must get its answer, not a reset
 * after the task was committed. Alongside, the timeouts that bound misbehaving clients must still
 * cut them: a request that stops halfway, and an idle keep-alive connection.
 *
 * One engine only (the first of BERTH_TEST_ENGINES): what is tested is the HTTP server's handling
 * of a quiet connection; the engine only supplies a task that takes 70 s, and every engine-facing
 * path it uses is covered on both engines elsewhere. A second engine would add 70 s and no case.
 * The tests of this file run at once, so the whole file takes about as long as the one task.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { rawConnection } from '../helpers/raw-connection.ts';

const HELD_RUNNERS = fileURLToPath(new URL('../fixtures/berth-held.yaml', import.meta.url));
const [engineUnderTest] = testEngines();
/** Longer than any timeout that could be in play (keep-alive: 72 s + 1 s), so a test ends either way. */
const CUT_WITHIN_MS = 120_000;

describe(`held requests outlast the socket inactivity timeout (worker on ${engineUnderTest!.name})`, { concurrency: true }, () => {
  const engine = createDockerEngine({ dockerHost: engineUnderTest!.dockerHost });
  let database: TestDatabase;
  let berth: BerthProcess;
  let url: string;
  let port: number;

  before(async () => {
    database = await createTestDatabase();
    berth = spawnBerth(['start', '--config', HELD_RUNNERS], {
      DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest!.dockerHost, PORT: '0', BERTH_INSTANCE: database.name,
    });
    url = String((await berth.waitForLog('berth is listening'))['url']);
    port = Number(new URL(url).port);
    await berth.waitForLog('worker started');
  });

  after(async () => {
    const code = await berth?.stop('SIGTERM');
    assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth?.output()}`);
    if (database === undefined) return;
    assert.deepEqual(await engine.listContainers({ 'berth.managed-by': database.name }), [], 'no container may be left');
    await database.drop();
  });

  test('POST /tasks with Prefer: wait=90 on a 70 s task answers 200 with the result', async () => {
    const response = await fetch(`${url}/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'wait=90' },
      body: JSON.stringify({ runner: 'quiet-70s' }),
    });
    const task = await response.json() as Record<string, any>;
    assert.equal(response.status, 200, JSON.stringify(task));
    assert.equal(response.headers.get('preference-applied'), 'wait=90');
    assert.equal(task['status'], 'succeeded', JSON.stringify(task));
    assert.deepEqual(task['output'], { slept: 70 });
  });

  test('a followed log that is silent for 70 s streams to the end, and GET ?wait=90 gets the result', async () => {
    const { id } = await submit(url, 'quiet-70s');
    const waited = fetch(`${url}/tasks/${id}?wait=90`).then(async (r) => ({ status: r.status, task: await r.json() as Record<string, any> }));
    const follow = await fetch(`${url}/tasks/${id}/logs?follow=true`);
    assert.equal(follow.status, 200);
    // The text only ends with both lines if the stream survived the 70 s between them.
    assert.equal(await follow.text(), 'started\nfinished\n');
    const { status, task } = await waited;
    assert.equal(status, 200);
    assert.equal(task['status'], 'succeeded', JSON.stringify(task));
  });

  // Two timeouts race to cut these: requestTimeout (30 s, checked every 30 s; answers 408) and
  // the 60 s inactivity timeout (closes without a word). Either will do; staying open will not.
  test('a client that sends the headers of a POST and then nothing is still cut', async () => {
    const connection = await rawConnection(port);
    connection.write('POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"run');
    const received = await connection.closedWithin(CUT_WITHIN_MS);
    assert.match(received, /^(HTTP\/1\.1 408 [^]*)?$/);
  });

  test('a client that stops in the middle of its headers is still cut', async () => {
    const connection = await rawConnection(port);
    connection.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const received = await connection.closedWithin(CUT_WITHIN_MS);
    assert.match(received, /^(HTTP\/1\.1 408 [^]*)?$/);
  });

  test('a keep-alive connection left idle after its answer is still closed', async () => {
    const connection = await rawConnection(port);
    connection.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
    const received = await connection.closedWithin(CUT_WITHIN_MS);
    assert.match(received, /^HTTP\/1\.1 200 /);
    assert.match(received, /keep-alive/i, 'the server must have offered to keep the connection, so the close was its idle timeout');
  });
});
