/**
 * The limits on request bodies, over real sockets to `berth serve` in a child process (a client
 * in the server's own process shares its event loop, which hides the races tested here).
 *
 * Size: a body over the limit is answered 413 BODY_TOO_LARGE, and the client reads that answer
 * instead of EPIPE/ECONNRESET — the server reads the rest of the body before it closes.
 * Depth: a body nested deeper than 64 levels is a 400 naming where, never a 500.
 * No engine is needed: nothing here runs a task.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createPool, type Pool } from '../../src/db.ts';
import { parseWebhookSecret, signStandardWebhook } from '../../src/webhook-signatures.ts';
import { spawnBerth, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { rawConnection } from '../helpers/raw-connection.ts';
import { countQueued, FIXTURE_RUNNERS } from '../helpers/stack.ts';

const BATCH_LIMIT = 2 * 1024 * 1024;
const OVERSIZED = Buffer.alloc(8 * 1024 * 1024, 'x');
const GENERIC_KEY = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');

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

const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

async function postJson(path: string, text: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
  return { status: response.status, body: await response.json() as Record<string, any> };
}

function assertTooDeep(answer: { status: number; body: Record<string, any> }, path: string): void {
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  assert.equal(answer.body['code'], 'VALIDATION_FAILED');
  assert.equal(answer.body['details'].length, 1);
  assert.equal(answer.body['details'][0].path, path);
  assert.match(answer.body['details'][0].message, /nested deeper than 64 levels/);
}

/** The pointer of the 65th level when `prefix` is the path to level 2 of the body. */
const at65 = (prefix: string, levelOfPrefix: number): string => `${prefix}${'/0'.repeat(64 - levelOfPrefix)}`;

describe('a body nested deeper than 64 levels: 400 naming where', () => {
  test('POST /tasks: 200,000 levels → 400, nothing queued', async () => {
    const before = await countQueued(pool);
    assertTooDeep(await postJson('/tasks', `{"runner":"echo","input":${nested(200_000)}}`), at65('body/input', 1));
    assert.deepEqual(await countQueued(pool), before);
  });

  test('POST /tasks: a body exactly 64 deep is accepted; one level more is not', async () => {
    // The body is level 1, so its input may nest 63 deep.
    const accepted = await postJson('/tasks', `{"runner":"echo","input":${nested(63)}}`);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(JSON.stringify(accepted.body['input']), nested(63));
    assertTooDeep(await postJson('/tasks', `{"runner":"echo","input":${nested(64)}}`), at65('body/input', 1));
  });

  test('POST /tasks/batch: 200,000 levels in the second task → 400 naming it, nothing queued', async () => {
    const before = await countQueued(pool);
    const body = `{"tasks":[{"runner":"echo","input":1},{"runner":"echo","input":${nested(200_000)}}]}`;
    assertTooDeep(await postJson('/tasks/batch', body), at65('body/tasks/1/input', 3));
    assert.deepEqual(await countQueued(pool), before);
  });

  test('POST /webhooks/generic: a signed payload 200,000 deep → 400; one at the limit starts its task', async () => {
    const deliver = (text: string) => {
      const id = `msg_${Math.random().toString(36).slice(2)}`;
      const at = Math.floor(Date.now() / 1000);
      return postJson('/webhooks/generic', text, {
        'webhook-id': id, 'webhook-timestamp': String(at), 'webhook-signature': signStandardWebhook(GENERIC_KEY, id, at, text),
      });
    };
    const before = await countQueued(pool);
    assertTooDeep(await deliver(`{"type":"deep","data":${nested(200_000)}}`), at65('body/data', 1));
    assert.deepEqual(await countQueued(pool), before);
    const accepted = await deliver(`{"type":"deep","data":${nested(63)}}`);
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  });
});
