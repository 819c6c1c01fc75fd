/**
 * The bound on requests one API process holds (wait=, follow=, Prefer: wait), over real sockets:
 * past it a read is refused with 503 and Retry-After, a submission's Prefer: wait goes unmet (the
 * task is stored, 202 at once), and a slot freed by an answered request is taken again.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withAdmin } from '../helpers/database.ts';
import { countQueued, startApiStack, type ApiStack } from '../helpers/stack.ts';

let stack: ApiStack;
let url: string;
before(async () => {
  stack = await startApiStack({ heldLimit: 2 });
  url = await stack.app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => { await stack?.close(); });

async function submit(headers: Record<string, string> = {}) {
  return fetch(`${url}/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ runner: 'echo' }) });
}

test('past the bound: 503 TOO_MANY_HELD with Retry-After for reads, an unmet Prefer: wait for submissions', async () => {
  // No worker runs here: the task stays queued, so every wait lasts its whole time.
  const task = (await (await submit()).json()) as { id: string };
  const follow = new AbortController();
  const waiting = fetch(`${url}/tasks/${task.id}?wait=3`);
  // A followed log of a task that writes nothing is quiet: its request stays held until aborted.
  const followed = fetch(`${url}/tasks/${task.id}/logs?follow=true`, { signal: follow.signal }).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));

  for (const path of [`/tasks/${task.id}?wait=3`, `/tasks/${task.id}/logs?follow=true`]) {
    const refused = await fetch(`${url}${path}`);
    assert.equal(refused.status, 503, path);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(((await refused.json()) as { code: string }).code, 'TOO_MANY_HELD');
  }
  // A read without wait is not held, and is served.
  assert.equal((await fetch(`${url}/tasks/${task.id}`)).status, 200);

  const before = await countQueued(stack.pool);
  const started = Date.now();
  const preferred = await submit({ prefer: 'wait=5' });
  assert.equal(preferred.status, 202);
  assert.equal(preferred.headers.get('preference-applied'), null);
  assert.ok(Date.now() - started < 2_000, 'answered at once, not after the wait');
  assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 1, jobs: before.jobs + 1 });

  // The wait ends after 3 s; its slot is free again.
  assert.equal((await waiting).status, 200);
  const again = await fetch(`${url}/tasks/${task.id}?wait=1`);
  assert.equal(again.status, 200);
  follow.abort();
  await followed;
});

test('Prefer: wait whose wait fails after the commit (the database gone meanwhile) answers 202 with the stored task, not a 5xx', async () => {
  const name = stack.database.name;
  const cut = async (allow: boolean) => withAdmin(async (admin) => {
    await admin.query(`alter database ${name} with allow_connections ${allow}`);
    if (!allow) await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [name]);
  });
  const answer = submit({ prefer: 'wait=3' });
  // Cut once the task is stored and the wait has begun; the wait's next read then fails.
  await new Promise((resolve) => setTimeout(resolve, 500));
  await cut(false);
  try {
    const response = await answer;
    assert.equal(response.status, 202, await response.clone().text());
    const task = (await response.json()) as { id: string; status: string };
    assert.equal(task.status, 'queued');
  } finally {
    await cut(true);
  }
  // The task was stored: it is there once the database is back.
  const listed = (await (await fetch(`${url}/tasks?limit=500`)).json()) as { items: unknown[] };
  assert.ok(listed.items.length > 0);
});
