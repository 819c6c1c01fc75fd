/**
 * The limits on request bodies, over real sockets to `berth serve` in a child process (a client
 * in the server's own process shares its event loop, which hides the races tested here).
 *
 * Size: a body over the limit is answered 413 BODY_TOO_LARGE, and the client reads that answer
 * instead of EPIPE/ECONNRESET — the server reads the rest of the body before it closes.
 * No engine is needed: nothing here runs a task.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createPool, type Pool } from '../../src/db.ts';
import { spawnBerth, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { rawConnection } from '../helpers/raw-connection.ts';
import { countQueued, FIXTURE_RUNNERS } from '../helpers/stack.ts';

const BATCH_LIMIT = 2 * 1024 * 1024;
const OVERSIZED = Buffer.alloc(8 * 1024 * 1024, 'x');

let database: TestDatabase;
let pool: Pool;
let berth: BerthProcess;
let url: string;
let port: number;

before(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, { max: 2 });
  berth = spawnBerth(['serve', '--config', FIXTURE_RUNNERS], {
    DATABASE_URL: database.url, PORT: '0', BERTH_INSTANCE: database.name, BERTH_BATCH_BODY_LIMIT: String(BATCH_LIMIT),
  });
  url = String((await berth.waitForLog('berth is listening'))['url']);
  port = Number(new URL(url).port);
});

after(async () => {
  const code = await berth?.stop('SIGTERM');
  assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth?.output()}`);
  await pool?.end();
  await database?.drop();
});

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One POST over node:http; resolves with the answer, or rejects with the socket error (EPIPE, ECONNRESET). */
function post(path: string, body: Buffer, options: { agent?: http.Agent | false; chunked?: boolean; headers?: Record<string, string> } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (options.chunked !== true) headers['content-length'] = String(body.length);
    const request = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers, agent: options.agent ?? false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { text += chunk; });
      response.once('end', () => resolve({ status: response.statusCode!, headers: response.headers, body: text }));
      response.once('error', reject);
    });
    request.once('error', reject);
    request.end(body);
  });
}

/** Sends `count` oversized POSTs one after another; every one must read the 413 and its JSON error. */
async function everyOneReads413(count: number, send: () => Promise<Answer>): Promise<void> {
  const failures: string[] = [];
  for (let i = 0; i < count; i++) {
    try {
      const answer = await send();
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      assert.equal(answer.status, 413);
      assert.deepEqual(Object.keys(body).sort(), ['code', 'message', 'statusCode']);
      assert.equal(body['statusCode'], 413);
      assert.equal(body['code'], 'BODY_TOO_LARGE');
      assert.equal(typeof body['message'], 'string');
    } catch (error) {
      failures.push(`#${i}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${count} oversized POSTs got no 413`);
}

describe('a body over the limit: the client reads its 413', () => {
  test('30 POST /tasks of 8 MiB with Connection: close (limit 1 MiB)', async () => {
    const before = await countQueued(pool);
    await everyOneReads413(30, () => post('/tasks', OVERSIZED));
    assert.deepEqual(await countQueued(pool), before);
  });

  test('10 POST /tasks of 8 MiB sent chunked, without a Content-Length', async () => {
    await everyOneReads413(10, () => post('/tasks', OVERSIZED, { chunked: true }));
  });

  test('10 POST /tasks/batch of 8 MiB (its own limit, here 2 MiB)', async () => {
    await everyOneReads413(10, () => post('/tasks/batch', OVERSIZED));
  });

  test('10 POST /webhooks/jira of 8 MiB', async () => {
    await everyOneReads413(10, () => post('/webhooks/jira', OVERSIZED));
  });

  test('a keep-alive client reads each 413, and its next request succeeds', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await everyOneReads413(5, () => post('/tasks', OVERSIZED, { agent }));
      const answer = await post('/tasks', Buffer.from(JSON.stringify({ runner: 'echo' })), { agent });
      assert.equal(answer.status, 202, answer.body);
    } finally {
      agent.destroy();
    }
  });

  test('a client that stops sending its oversized body still gets the 413, and the connection is closed', async () => {
    const connection = await rawConnection(port);
    connection.write(`POST /tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${OVERSIZED.length}\r\n\r\n{"runner":`);
    const received = await connection.closedWithin(60_000);
    assert.match(received, /^HTTP\/1\.1 413 /);
    assert.match(received, /\r\nconnection: close\r\n/i);
    assert.match(received, /"code":"BODY_TOO_LARGE"/);
  });
});
