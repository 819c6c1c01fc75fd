/**
 * Waiting on a task against a real PostgreSQL, where a wait may start from a copy of the task read
 * at its own commit (a submission's Prefer: wait) instead of reading it again: that copy must never
 * hide an end that came before the wait subscribed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPool, type Pool } from '../../src/db.ts';
import { createLogger } from '../../src/logger.ts';
import { publishTaskEvent, startTaskEvents, type TaskEvents } from '../../src/task-events.ts';
import { cancelTask, findTask, insertTask } from '../../src/tasks/task-store.ts';
import { newTaskId } from '../../src/tasks/task-id.ts';
import type { Task } from '../../src/tasks/task-schemas.ts';
import { createTaskWatch, type TaskWatch } from '../../src/tasks/task-watch.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { until } from '../helpers/wait.ts';

let database: TestDatabase;
let pool: Pool;
let events: TaskEvents;
let watch: TaskWatch;
const shutdown = new AbortController();
before(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, { max: 3 });
  events = await startTaskEvents({ connectionString: database.url, logger: createLogger('silent', 'test') });
  watch = createTaskWatch({ pool, events, shutdown: shutdown.signal });
});
after(async () => {
  shutdown.abort();
  await events?.close();
  await pool?.end();
  await database?.drop();
});

/** A queued task as its submitter holds it after the commit. */
async function committedTask(): Promise<Task> {
  const id = newTaskId();
  await insertTask(pool, { id, runner: 'r', inputJson: 'null', priority: 0, runAfter: null, maxAttempts: 1, callbackUrl: null });
  return (await findTask(pool, id))!;
}

async function endTask(id: string): Promise<void> {
  await cancelTask(pool, id);
  await publishTaskEvent(pool, id, 'final');
}

test('a task that ended before the wait subscribed is answered at once, as it is now', async () => {
  const held = await committedTask();
  await endTask(held.id);
  await until('the end event to arrive', async () => events.endedRecently(held.id) || undefined, 10_000);
  const started = Date.now();
  const answer = await watch.waitForCommitted(held, 20_000);
  assert.equal(answer.status, 'cancelled');
  assert.ok(Date.now() - started < 10_000, `answered after ${Date.now() - started} ms, not at once`);
});

test('a task that ends during the wait is answered when it ends; one that does not, as held', async () => {
  const held = await committedTask();
  const waiting = watch.waitForCommitted(held, 20_000);
  await endTask(held.id);
  assert.equal((await waiting).status, 'cancelled');

  const still = await committedTask();
  assert.deepEqual(await watch.waitForCommitted(still, 200), still);
});

test('only final events are remembered, and only for their task', async () => {
  const held = await committedTask();
  await publishTaskEvent(pool, held.id, 'status');
  await publishTaskEvent(pool, held.id, 'log');
  const barrier = newTaskId();
  await publishTaskEvent(pool, barrier, 'final');
  await until('the barrier event to arrive', async () => events.endedRecently(barrier) || undefined, 10_000);
  assert.equal(events.endedRecently(held.id), false);
});
