/**
 * The API process (`berth serve`) stopped with SIGTERM while requests are open: a held
 * `GET /tasks/{id}?wait=60` answers at once with the task as it is, a live log stream
 * (`?follow=true`) ends cleanly, the listening socket closes (new connections are refused) while a
 * request still in flight is finished, and the process exits 0 — promptly, even though its clients
 * (fetch, like most HTTP clients) keep their connections alive. The API is engine-independent, so
 * this runs on the first engine under test only (the worker needs one).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, submit, waitForFinal, waitForStatus, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';
import { until } from '../helpers/wait.ts';

const FAULT_RUNNERS = fileURLToPath(new URL('../fixtures/berth-faults.yaml', import.meta.url));
const engineUnderTest = testEngines()[0]!;

type Json = Record<string, any>;


/** Whether a fresh TCP connection to the port is refused (rather than accepted). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

/** The fastify "incoming request" log lines: proof the server holds a request, not just that it was sent. */
function incoming(process: BerthProcess): Json[] {
  return process.output().split('\n').flatMap((line) => {
    if (!line.includes('"msg":"incoming request"')) return [];
    try { return [JSON.parse(line) as Json]; } catch { return []; }
  });
}

/** The exit code once the process has ended, without sending it anything. */
function exitCode(process: BerthProcess, timeoutMs: number, why: string): Promise<number | null> {
  const { child } = process;
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms: ${why}; output:\n${process.output()}`)), timeoutMs);
    child.once('exit', (code) => { clearTimeout(timer); resolve(code); });
  });
}

/** A POST /tasks whose headers are sent now and whose body is finished only when `finish()` is called. */
function slowPost(port: number, body: string) {
  const bytes = Buffer.from(body);
  const request = http.request({
    host: '127.0.0.1', port, method: 'POST', path: '/tasks', agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) },
  });
  const localPort = new Promise<number>((resolve) => request.once('socket', (s) => s.once('connect', () => resolve(s.localPort!))));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.once('error', reject);
    request.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.once('end', () => resolve({ status: res.statusCode!, body: text }));
      res.once('error', reject);
    });
  });
  request.write(bytes.subarray(0, 5));
  return { localPort, response, finish: () => request.end(bytes.subarray(5)) };
}

describe(`API SIGTERM with requests in flight (worker on ${engineUnderTest.name})`, () => {
  const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
  let database: TestDatabase;
  let worker: BerthProcess;
  const spawned: BerthProcess[] = [];
  const env = (): Record<string, string> => ({
    DATABASE_URL: database.url, DOCKER_HOST: engineUnderTest.dockerHost, PORT: '0', BERTH_CONFIG: FAULT_RUNNERS,
    BERTH_INSTANCE: database.name,
  });
  const serve = async (): Promise<{ api: BerthProcess; url: string }> => {
    const api = spawnBerth(['serve'], env());
    spawned.push(api);
    return { api, url: String((await api.waitForLog('berth is listening'))['url']) };
  };

  before(async () => {
    database = await createTestDatabase();
    worker = spawnBerth(['worker'], { ...env(), BERTH_SHUTDOWN_GRACE: '1' });
    await worker.waitForLog('worker started');
  });

  after(async () => {
    for (const p of spawned) await p.stop('SIGKILL');
    if (worker !== undefined) assert.equal(await worker.stop('SIGTERM'), 0, worker.output());
    if (database === undefined) return;
    const left = await engine.listContainers({ 'berth.managed-by': database.name });
    await engine.removeContainers({ 'berth.managed-by': database.name });
    await database.drop();
    assert.deepEqual(left, [], 'no container may be left behind');
  });

  // The three tests are one story told in order: the same API process, stopped in the first.
  let api: BerthProcess;
  let port: number;
  let task: Json;
  let submittedDuringShutdown: Json;

  test('SIGTERM: held requests are answered, new connections refused, the request in flight finished', async () => {
    let url: string;
    ({ api, url } = await serve());
    port = Number(new URL(url).port);
    task = await submit(url, 'long-chatty');
    await waitForStatus(url, task['id'], 'running');

    // fetch keeps its connections alive between requests, as HTTP clients do.
    const waiting = fetch(`${url}/tasks/${task['id']}?wait=60`, { signal: AbortSignal.timeout(30_000) });
    const follow = await fetch(`${url}/tasks/${task['id']}/logs?follow=true`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(follow.status, 200);
    const reader = follow.body!.pipeThrough(new TextDecoderStream()).getReader();
    let followed = '';
    while (!followed.includes('line 1\n')) {
      const { value, done } = await reader.read();
      assert.equal(done, false, `the log stream ended before the API was stopped: ${followed}`);
      followed += value;
    }
    const inFlight = slowPost(port, JSON.stringify({ runner: 'echo', input: { sent: 'during shutdown' } }));
    const postPort = await inFlight.localPort;
    await until('the API to hold the wait request and to have the POST\'s headers', async () => {
      const seen = incoming(api);
      const waitHeld = seen.some((l) => l['req']?.['url'] === `/tasks/${task['id']}?wait=60`);
      const postHeld = seen.some((l) => l['req']?.['method'] === 'POST' && l['req']?.['remotePort'] === postPort);
      return waitHeld && postHeld ? true : undefined;
    });

    api.child.kill('SIGTERM');

    const answered = await waiting;
    assert.equal(answered.status, 200);
    const current = await answered.json() as Json;
    assert.equal(current['id'], task['id']);
    assert.equal(current['status'], 'running', 'the wait answers with the task as it is now');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      followed += value;
    }
    assert.match(followed, /^line 0\nline 1\n/);

    await until('new connections to be refused', async () => ((await refused(port)) ? true : undefined), 15_000);
    assert.equal(api.child.exitCode, null, 'the API must not exit before the request in flight is answered');
    inFlight.finish();
    const posted = await inFlight.response;
    assert.equal(posted.status, 202, posted.body);
    submittedDuringShutdown = JSON.parse(posted.body) as Json;
  });

  test('SIGTERM: once every request is answered, the API exits 0 (within docker stop\'s 10 s)', async () => {
    assert.ok(api !== undefined, 'runs after the previous test');
    // Idle keep-alive connections of its clients must not hold the process: an orchestrator's
    // grace period (10 s for docker stop, 30 s for Kubernetes) ends in SIGKILL.
    const code = await exitCode(api, 10_000, 'every request was answered, yet the API process is still running');
    assert.equal(code, 0, api.output());
    assert.ok(await refused(port));
  });

  test('after the API stopped: what it committed runs; the task it followed is still running, then cancelled', async () => {
    assert.ok(submittedDuringShutdown !== undefined, 'runs after the first test');
    const next = await serve();
    const done = await waitForFinal(next.url, submittedDuringShutdown['id']);
    assert.equal(done['status'], 'succeeded', JSON.stringify(done));
    assert.deepEqual(done['output'], { sent: 'during shutdown' });
    assert.equal((await (await fetch(`${next.url}/tasks/${task['id']}`)).json() as Json)['status'], 'running');
    assert.equal((await fetch(`${next.url}/tasks/${task['id']}/cancel`, { method: 'POST' })).status, 200);
    await until('the long task\'s container removed', async () =>
      ((await engine.listContainers({ 'berth.task-id': task['id'] })).length === 0 ? true : undefined));
    assert.equal((await waitForFinal(next.url, task['id']))['status'], 'cancelled');
    assert.equal(await next.api.stop('SIGTERM'), 0, next.api.output());
  });
});
