/**
 * The log store against a real database: chunks are read back in order per attempt, and an
 * attempt's log replaced by its tail (what the worker does when stderr outgrew the limit).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../../src/db.ts';
import { appendLog, readLog, replaceLog } from '../../src/tasks/log-store.ts';
import { insertTask } from '../../src/tasks/task-store.ts';
import { newTaskId } from '../../src/tasks/task-id.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let database: TestDatabase;
let pool: Pool;
before(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, { max: 2 });
});
after(async () => {
  await pool?.end();
  await database?.drop();
});

async function newTask(): Promise<string> {
  const id = newTaskId();
  await insertTask(pool, { id, runner: 'r', inputJson: 'null', priority: 0, runAfter: null, maxAttempts: 1, callbackUrl: null });
  return id;
}

const text = (chunks: { content: Buffer }[]): string => Buffer.concat(chunks.map((c) => c.content)).toString('utf8');

test('chunks come back in order, per attempt, after a sequence number', async () => {
  const id = await newTask();
  await appendLog(pool, id, 1, Buffer.from('a\n'));
  await appendLog(pool, id, 2, Buffer.from('other attempt\n'));
  await appendLog(pool, id, 1, Buffer.from('b\n'));
  const all = await readLog(pool, id, 1, 0);
  assert.equal(text(all), 'a\nb\n');
  assert.equal(text(await readLog(pool, id, 1, all[0]!.seq)), 'b\n');
  assert.equal(text(await readLog(pool, id, 2, 0)), 'other attempt\n');
});

test('replacing an attempt\'s log keeps only the tail given, including bytes that are not UTF-8', async () => {
  const id = await newTask();
  await appendLog(pool, id, 1, Buffer.from('first part that was cut\n'));
  const tail = Buffer.from([0x74, 0x61, 0x69, 0x6c, 0xff, 0x00, 0x0a]);
  await replaceLog(pool, id, 1, tail);
  const chunks = await readLog(pool, id, 1, 0);
  assert.equal(chunks.length, 1);
  assert.deepEqual(chunks[0]!.content, tail);
});

test('replacing with an empty tail leaves no chunk', async () => {
  const id = await newTask();
  await appendLog(pool, id, 1, Buffer.from('x'));
  await replaceLog(pool, id, 1, Buffer.alloc(0));
  assert.deepEqual(await readLog(pool, id, 1, 0), []);
});
