/**
 * The task lifecycle contract that needs no worker, in-process on a fresh database: idempotent
 * submission, priority and delayed start, cancelling queued tasks, waiting, logs. Where a test needs
 * a task in a state only a worker produces (claimed, waiting for a retry, finished), it drives the
 * worker's own store functions in-process; no container runs. Listing and retention are in
 * lifecycle-api-listing.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createTaskQueue } from '../../src/queue.ts';
import { insertAttempt } from '../../src/tasks/attempt-store.ts';
import { createTaskLifecycle, type AttemptResult } from '../../src/tasks/task-lifecycle.ts';
import { claimTask } from '../../src/tasks/task-store.ts';
import { countQueued, startApiStack, type ApiStack } from '../helpers/stack.ts';

let stack: ApiStack;
before(async () => { stack = await startApiStack(); });
after(async () => { await stack?.close(); });

const UNKNOWN_ID = '0190a7a8-0000-7000-8000-000000000000';

function submit(body: unknown, headers: Record<string, string> = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return stack.app.inject({ method: 'POST', url: '/tasks', headers: { 'content-type': 'application/json', ...headers }, payload });
}

async function submitted(body: unknown, headers: Record<string, string> = {}): Promise<Record<string, any>> {
  const response = await submit(body, headers);
  assert.equal(response.statusCode, 202, response.body);
  return response.json();
}

const get = (url: string) => stack.app.inject({ method: 'GET', url });
const cancel = (id: string) => stack.app.inject({ method: 'POST', url: `/tasks/${id}/cancel` });

async function assertRejected(body: unknown, code: string, headers: Record<string, string> = {}) {
  const before = await countQueued(stack.pool);
  const response = await submit(body, headers);
  const status = code === 'IDEMPOTENCY_KEY_REUSED' ? 409 : 400;
  assert.equal(response.statusCode, status, `${JSON.stringify(body)} → ${response.body}`);
  assert.equal(response.json().code, code, response.body);
  assert.deepEqual(await countQueued(stack.pool), before, `nothing may be queued for ${JSON.stringify(body)}`);
  return response.json();
}

async function jobsOf(taskId: string) {
  const { rows } = await stack.pool.query<{ priority: number; start_after: Date; state: string }>(
    `select priority, start_after, state from pgboss.job where name = 'berth-run-task' and data->>'taskId' = $1 order by created_on`,
    [taskId],
  );
  return rows;
}

const lifecycle = () => createTaskLifecycle({ pool: stack.pool, queue: createTaskQueue(stack.boss), runners: stack.runners });

/** What a worker does to take a task: claim it (queued → running) and open its next attempt. */
async function claimInProcess(taskId: string) {
  // As if a retry's backoff had passed: the lifecycle claims no task before its time.
  await stack.pool.query('update berth.tasks set next_attempt_at = null where id = $1', [taskId]);
  const claim = await lifecycle().claim(taskId, randomUUID());
  assert.ok(claim !== null, 'the task must be claimable');
  return claim;
}

/** What a worker does when an attempt ends: settle it with the runner's retry policy. */
async function settleInProcess(taskId: string, runnerName: string, result: AttemptResult) {
  const claim = await claimInProcess(taskId);
  assert.equal(claim.runner, runnerName);
  return (await lifecycle().settle(claim, result)).settlement;
}

/** Resolves once another session's query matching `pattern` (SQL LIKE) waits for a lock. */
async function untilWaitingForLock(pattern: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const { rows } = await stack.pool.query(
      `select 1 from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()
          and wait_event_type = 'Lock' and query like $1`, [pattern]);
    if (rows.length > 0) return;
    assert.ok(Date.now() < deadline, `no query like ${pattern} is waiting for a lock`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Starts a request while `table` is locked and releases the lock once the request's query waits
 * for it: by then the request has provably read what it reads before that query.
 */
async function startPastRead<T>(table: string, queryPattern: string, start: () => Promise<T>): Promise<{ pending: Promise<T> }> {
  const client = await stack.pool.connect();
  try {
    await client.query('begin');
    await client.query(`lock table ${table} in access exclusive mode`);
    const pending = start();
    await untilWaitingForLock(queryPattern);
    await client.query('commit');
    return { pending };
  } finally {
    // A no-op after the commit; on a failure it releases the lock before the client goes back to the pool.
    await client.query('rollback');
    client.release();
  }
}

/** Resolves with `promise`, or fails the test when it is still pending at the deadline. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms); });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('Idempotency-Key', () => {
  test('same key and same body, whatever the key order → 200 with the first task, nothing queued', async () => {
    const key = randomUUID();
    const first = await submit({ runner: 'echo', input: { a: 1, b: { c: [1, 2], d: 'x' } }, priority: 3 }, { 'idempotency-key': key });
    assert.equal(first.statusCode, 202, first.body);
    const before = await countQueued(stack.pool);
    const replay = await submit('{ "priority": 3, "input": {"b": {"d": "x", "c": [1, 2]}, "a": 1}, "runner": "echo" }', { 'idempotency-key': key });
    assert.equal(replay.statusCode, 200, replay.body);
    assert.deepEqual(replay.json(), first.json());
    assert.equal(replay.headers.location, `/tasks/${first.json().id}`);
    assert.deepEqual(await countQueued(stack.pool), before, 'a replay queues nothing');
  });

  test('same key with a different body → 409 IDEMPOTENCY_KEY_REUSED, nothing queued; the key still replays', async () => {
    const key = randomUUID();
    const body = { runner: 'echo', input: { n: 1 } };
    const first = await submitted(body, { 'idempotency-key': key });
    for (const other of [{ runner: 'echo', input: { n: 2 } }, { runner: 'text-echo', input: { n: 1 } }, { ...body, priority: 1 }, { ...body, delay: 5 }]) {
      await assertRejected(other, 'IDEMPOTENCY_KEY_REUSED', { 'idempotency-key': key });
    }
    const replay = await submit(body, { 'idempotency-key': key });
    assert.equal(replay.statusCode, 200);
    assert.equal(replay.json().id, first['id']);
  });

  test('another key with the same body is another task', async () => {
    const body = { runner: 'echo', input: 'same' };
    const a = await submitted(body, { 'idempotency-key': randomUUID() });
    const b = await submitted(body, { 'idempotency-key': randomUUID() });
    assert.notEqual(a['id'], b['id']);
  });

  test('many concurrent submissions with one key → exactly one task and one job', async () => {
    const key = randomUUID();
    const before = await countQueued(stack.pool);
    const responses = await Promise.all(Array.from({ length: 20 }, () => submit({ runner: 'echo', input: { race: true } }, { 'idempotency-key': key })));
    const statuses = responses.map((r) => r.statusCode).sort();
    assert.deepEqual(statuses, [...Array<number>(19).fill(200), 202], 'one creates the task, the others replay it');
    assert.equal(new Set(responses.map((r) => r.json().id)).size, 1, 'every response names the same task');
    assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 1, jobs: before.jobs + 1 });
  });
});

describe('priority, startAfter and delay', () => {
  test('defaults: priority 0, no runAfter, the job starts at once', async () => {
    const task = await submitted({ runner: 'echo' });
    assert.equal(task['priority'], 0);
    assert.equal(task['runAfter'], null);
    const [job] = await jobsOf(task['id']);
    assert.equal(job?.priority, 0);
    assert.ok(job.start_after.getTime() <= Date.now());
  });

  test('priority and delay are stored on the task and on its pg-boss job', async () => {
    const earliest = Date.now() + 60_000;
    const task = await submitted({ runner: 'echo', priority: 7, delay: 60 });
    const latest = Date.now() + 60_000;
    assert.equal(task['priority'], 7);
    const runAfter = Date.parse(task['runAfter']);
    assert.ok(runAfter >= earliest && runAfter <= latest, `runAfter ${task['runAfter']} must be 60 s after submission`);
    assert.equal(task['nextAttemptAt'], null);
    const jobs = await jobsOf(task['id']);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.priority, 7);
    assert.equal(jobs[0]!.start_after.toISOString(), task['runAfter']);
  });

  test('startAfter is stored as given, in UTC, on the task and the job', async () => {
    const task = await submitted({ runner: 'echo', priority: -5, startAfter: '2031-02-03T06:07:08.009+02:00' });
    assert.equal(task['runAfter'], '2031-02-03T04:07:08.009Z');
    assert.equal(task['priority'], -5);
    assert.deepEqual((await jobsOf(task['id'])).map((j) => [j.priority, j.start_after.toISOString()]), [[-5, '2031-02-03T04:07:08.009Z']]);
    const read = (await get(`/tasks/${task['id']}`)).json();
    assert.equal(read.runAfter, '2031-02-03T04:07:08.009Z');
  });

  test('the extremes -1000 and 1000 are accepted', async () => {
    for (const priority of [-1000, 1000]) {
      const task = await submitted({ runner: 'echo', priority });
      assert.equal(task['priority'], priority);
      assert.equal((await jobsOf(task['id']))[0]?.priority, priority);
    }
  });

  test('startAfter and delay together → 400, nothing queued', async () => {
    const json = await assertRejected({ runner: 'echo', startAfter: new Date(Date.now() + 60_000).toISOString(), delay: 5 }, 'VALIDATION_FAILED');
    assert.match(JSON.stringify(json), /startAfter/);
  });

  test('out-of-range or malformed priority, delay and startAfter → 400, nothing queued', async () => {
    const bad = [
      { priority: 1001 }, { priority: -1001 }, { priority: 2.5 }, { priority: 'high' },
      { delay: -1 }, { delay: 'soon' }, { delay: 31_536_001 },
      { startAfter: 'tomorrow' }, { startAfter: '2031-02-03' }, { startAfter: 1_900_000_000 },
    ];
    for (const fields of bad) {
      const json = await assertRejected({ runner: 'echo', ...fields }, 'VALIDATION_FAILED');
      const field = Object.keys(fields)[0]!;
      assert.ok(json.details?.some((d: { path: string }) => d.path.includes(field)), `the error names ${field}: ${JSON.stringify(json)}`);
    }
  });
});

describe('cancel', () => {
  test('a queued task → 200 cancelled, final, without an attempt', async () => {
    const task = await submitted({ runner: 'echo', input: 1 });
    const response = await cancel(task['id']);
    assert.equal(response.statusCode, 200, response.body);
    const cancelled = response.json();
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(Date.parse(cancelled.finishedAt) >= Date.parse(task['createdAt']));
    assert.equal(cancelled.attempts, 0);
    assert.deepEqual(cancelled.attemptHistory, []);
    assert.equal(cancelled.startedAt, null);
    assert.deepEqual((await get(`/tasks/${task['id']}`)).json(), cancelled);
  });

  test('a finished task → 409 TASK_FINISHED naming its status, and it stays as it was', async () => {
    const cancelled = await submitted({ runner: 'echo' });
    assert.equal((await cancel(cancelled['id'])).statusCode, 200);
    const succeeded = await submitted({ runner: 'echo' });
    await settleInProcess(succeeded['id'], 'echo', { status: 'succeeded', outputJson: '{"ok":1}', errorCode: null, errorMessage: null, exitCode: 0 });
    const failed = await submitted({ runner: 'fail' });
    await settleInProcess(failed['id'], 'fail', { status: 'failed', outputJson: null, errorCode: 'nonzero_exit', errorMessage: 'exit 3', exitCode: 3 });
    for (const [task, status] of [[cancelled, 'cancelled'], [succeeded, 'succeeded'], [failed, 'failed']] as const) {
      const before = (await get(`/tasks/${task['id']}`)).json();
      assert.equal(before.status, status);
      const response = await cancel(task['id']);
      assert.equal(response.statusCode, 409, response.body);
      assert.equal(response.json().code, 'TASK_FINISHED');
      assert.match(response.json().message, new RegExp(`\\b${status}\\b`));
      assert.deepEqual((await get(`/tasks/${task['id']}`)).json(), before);
    }
  });

  test('unknown or malformed id → 404 TASK_NOT_FOUND', async () => {
    for (const id of [UNKNOWN_ID, 'not-a-task']) {
      const response = await cancel(id);
      assert.equal(response.statusCode, 404, id);
      assert.equal(response.json().code, 'TASK_NOT_FOUND');
    }
  });

  test('a task waiting for its retry is queued with nextAttemptAt; cancelling it clears that', async () => {
    const task = await submitted({ runner: 'flaky', input: {} });
    assert.equal(task['maxAttempts'], 4, '1 + the retry limit of 3');
    const settled = await settleInProcess(task['id'], 'flaky', { status: 'failed', outputJson: null, errorCode: 'nonzero_exit', errorMessage: 'fail 1', exitCode: 1 });
    assert.equal(settled, 'retrying');
    const waiting = (await get(`/tasks/${task['id']}`)).json();
    assert.equal(waiting.status, 'queued');
    assert.equal(waiting.attempts, 1);
    assert.ok(waiting.nextAttemptAt !== null && Date.parse(waiting.nextAttemptAt) > Date.parse(waiting.attemptHistory[0].finishedAt));
    assert.deepEqual(waiting.attemptHistory.map((a: any) => [a.attempt, a.exitCode, a.error?.code]), [[1, 1, 'nonzero_exit']]);
    const jobs = await jobsOf(task['id']);
    assert.equal(jobs.length, 2, 'the retry has a job of its own');
    assert.ok(jobs[1]!.start_after.getTime() > jobs[0]!.start_after.getTime());
    // Never before its task (a job due a moment early would find it not yet claimable), at most 1 ms after.
    const [due] = (await stack.pool.query<{ same: boolean; task: string; job: string }>(
      `select j.start_after >= t.next_attempt_at and j.start_after < t.next_attempt_at + interval '1 ms' as same,
              t.next_attempt_at::text as task, j.start_after::text as job
         from berth.tasks t join pgboss.job j on j.name = 'berth-run-task' and j.data->>'taskId' = t.id::text
        where t.id = $1 and j.state = 'created' and j.start_after > now()`, [task['id']])).rows;
    assert.ok(due?.same, `the retry's job is due when its task is: ${JSON.stringify(due)}`);
    const cancelled = (await cancel(task['id'])).json();
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.nextAttemptAt, null);
    assert.equal(cancelled.attempts, 1);
  });

  test('retries by error code: nonzero_exit, timeout, engine_error up to the limit; invalid_output, output_too_large never', async () => {
    const failure = (code: AttemptResult['errorCode']): AttemptResult => ({ status: 'failed', outputJson: null, errorCode: code, errorMessage: String(code), exitCode: null });
    for (const code of ['nonzero_exit', 'timeout', 'engine_error'] as const) {
      const task = await submitted({ runner: 'flaky' });
      const settlements = [];
      for (let n = 0; n < 4; n += 1) settlements.push(await settleInProcess(task['id'], 'flaky', failure(code)));
      assert.deepEqual(settlements, ['retrying', 'retrying', 'retrying', 'finished'], `${code}: 1 + 3 retries`);
      const final = (await get(`/tasks/${task['id']}`)).json();
      assert.deepEqual([final.status, final.attempts, final.error?.code, final.nextAttemptAt], ['failed', 4, code, null], code);
      assert.deepEqual(final.attemptHistory.map((a: any) => a.error?.code), [code, code, code, code]);
    }
    for (const code of ['invalid_output', 'output_too_large'] as const) {
      const task = await submitted({ runner: 'flaky' });
      assert.equal(await settleInProcess(task['id'], 'flaky', failure(code)), 'finished', code);
      const final = (await get(`/tasks/${task['id']}`)).json();
      assert.deepEqual([final.status, final.attempts, final.error?.code, final.nextAttemptAt], ['failed', 1, code, null], code);
    }
  });

  test('settling a success: the task, its attempt, the final event and the callback, with a callback or without', async () => {
    const success: AttemptResult = { status: 'succeeded', outputJson: '{"n":1}', errorCode: null, errorMessage: null, exitCode: 0 };
    for (const withCallback of [false, true]) {
      const task = await submitted({ runner: 'echo' });
      // Set on the row, as a submission with an allowed callbackUrl leaves it.
      if (withCallback) await stack.pool.query(`update berth.tasks set callback_url = 'http://127.0.0.1:9/hook' where id = $1`, [task['id']]);
      const claim = await claimInProcess(task['id']);
      assert.equal(claim.hasCallback, withCallback, 'the claim knows whether the task has a callback');
      const heard = new Promise<string>((resolve) => {
        const unsubscribe = stack.events.subscribe(task['id'], (kind) => { if (kind === 'final') { unsubscribe(); resolve(kind); } });
      });
      assert.equal((await lifecycle().settle(claim, success)).settlement, 'finished');
      assert.equal(await within(10_000, heard, 'the final event'), 'final');
      const final = (await get(`/tasks/${task['id']}`)).json();
      assert.deepEqual([final.status, final.output, final.attempts], ['succeeded', { n: 1 }, 1]);
      assert.equal(final.attemptHistory[0].exitCode, 0, JSON.stringify(final.attemptHistory));
      assert.notEqual(final.attemptHistory[0].finishedAt, null);
      const { rows } = await stack.pool.query(`select 1 from pgboss.job where name = 'berth-callback' and data->>'taskId' = $1`, [task['id']]);
      assert.equal(rows.length, withCallback ? 1 : 0, `callback jobs of a task ${withCallback ? 'with' : 'without'} a callback`);
      // The same attempt settled again (a worker that lost it, say) changes nothing.
      assert.equal((await lifecycle().settle(claim, { ...success, outputJson: '{"n":2}' })).settlement, 'superseded');
      assert.deepEqual((await get(`/tasks/${task['id']}`)).json().output, { n: 1 });
    }
  });

  test('a limited runner\'s freed slot is handed to its best parked task: claimed for the settling slot, with no new job, never past the limit', async () => {
    const success: AttemptResult = { status: 'succeeded', outputJson: '{}', errorCode: null, errorMessage: null, exitCode: 0 };
    // `limited` runs one task at a time: the first holds the slot, the others park when their jobs come.
    const [first, low, high] = [await submitted({ runner: 'limited' }), await submitted({ runner: 'limited', priority: -1 }), await submitted({ runner: 'limited', priority: 5 })];
    const claim = await claimInProcess(first!['id']);
    for (const parked of [low!, high!]) assert.equal(await lifecycle().claim(parked['id'], randomUUID()), null, 'the runner is full: the task parks');
    const slotJob = randomUUID();
    const settled = await lifecycle().settle(claim, success, { handOffJob: slotJob });
    assert.equal(settled.settlement, 'finished');
    assert.equal(settled.next?.id, high!['id'], 'the best parked task is handed on');
    assert.equal(settled.next?.attempt, 1);
    const handed = (await get(`/tasks/${high!['id']}`)).json();
    assert.deepEqual([handed.status, handed.attemptHistory.length], ['running', 1], 'claimed, with its attempt recorded');
    assert.equal((await jobsOf(high!['id'])).length, 1, 'no job beyond its submission\'s: the slot runs it');
    const { rows } = await stack.pool.query(`select job_id from berth.tasks where id = $1`, [high!['id']]);
    assert.equal(rows[0].job_id, slotJob);
    // The same settle again, as after a commit whose answer was lost: the slot still gets its task.
    const again = await lifecycle().settle(claim, success, { handOffJob: slotJob });
    assert.deepEqual([again.settlement, again.next?.id, again.next?.attempt], ['superseded', high!['id'], 1]);
    // Past the limit (two running where a lowered limit allows one): the freed slot is not handed
    // on; the parked task gets a job instead, and its claim weighs the limit again.
    await stack.pool.query(`update berth.tasks set status = 'running', parked_at = null, attempts = 1, started_at = now(), heartbeat_at = now() where id = $1`, [low!['id']]);
    const waiting = await submitted({ runner: 'limited' });
    assert.equal(await lifecycle().claim(waiting['id'], randomUUID()), null, 'the runner is full: the task parks');
    const overLimit = await lifecycle().settle(settled.next!, success, { handOffJob: randomUUID() });
    assert.deepEqual([overLimit.settlement, overLimit.next], ['finished', null], 'one still runs: the slot freed is not one the limit allows');
    assert.equal((await jobsOf(waiting['id'])).length, 2, 'the parked task got a job of its own');
    for (const id of [low!['id'], waiting['id']]) assert.equal((await cancel(id)).statusCode, 200);
  });

  test('an attempt settled after its task was cancelled changes nothing: the attempt stays recorded as cancelled', async () => {
    const task = await submitted({ runner: 'echo' });
    const claim = await claimInProcess(task['id']);
    assert.equal((await cancel(task['id'])).statusCode, 200);
    const success: AttemptResult = { status: 'succeeded', outputJson: '{}', errorCode: null, errorMessage: null, exitCode: 0 };
    assert.equal((await lifecycle().settle(claim, success)).settlement, 'superseded');
    const final = (await get(`/tasks/${task['id']}`)).json();
    assert.deepEqual([final.status, final.output, final.attemptHistory[0].error?.code, final.attemptHistory[0].exitCode], ['cancelled', null, 'cancelled', null]);
  });

  test('a task claimed while the cancel is in flight: the running attempt is recorded as cancelled', async () => {
    // The cancel reads the task (still queued), then its update waits for the row lock a worker's
    // claim holds; once the claim commits, the task it cancels is running attempt 1.
    const task = await submitted({ runner: 'echo' });
    const client = await stack.pool.connect();
    let cancelling: ReturnType<typeof cancel> | undefined;
    try {
      await client.query('begin');
      const claim = await claimTask(client, task['id'], randomUUID());
      await insertAttempt(client, task['id'], claim!.attempt);
      cancelling = cancel(task['id']);
      await untilWaitingForLock(`%set status = 'cancelled'%`);
      await client.query('commit');
    } finally {
      await client.query('rollback');
      client.release();
    }
    const response = await cancelling!;
    assert.equal(response.statusCode, 200, response.body);
    const cancelled = response.json();
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.attempts, 1);
    assert.equal(cancelled.attemptHistory.length, 1);
    assert.equal(cancelled.attemptHistory[0].error?.code, 'cancelled', `attempt 1 must be closed as cancelled: ${JSON.stringify(cancelled.attemptHistory)}`);
    assert.notEqual(cancelled.attemptHistory[0].finishedAt, null);
  });
});

describe('waiting', () => {
  test('GET ?wait=1 on a queued task holds, then answers its current state', async () => {
    const task = await submitted({ runner: 'echo' });
    const started = performance.now();
    const response = await get(`/tasks/${task['id']}?wait=1`);
    const elapsed = performance.now() - started;
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().status, 'queued');
    assert.deepEqual(response.json(), task);
    // A lower bound only: the request must not be answered before its wait is over.
    assert.ok(elapsed >= 990, `answered after ${elapsed} ms, before the 1 s wait was over`);
  });

  test('GET ?wait=N answers as soon as the task becomes final', async () => {
    const task = await submitted({ runner: 'echo' });
    // Cancelled only once the waiting request has read the task as queued.
    const { pending } = await startPastRead('berth.tasks', '%from berth.tasks t where t.id = $1%', () => get(`/tasks/${task['id']}?wait=60`));
    assert.equal((await cancel(task['id'])).statusCode, 200);
    const response = await within(20_000, pending, 'the wait should end with the cancel, long before its 60 s');
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().status, 'cancelled');
  });

  test('wait over 120 s or negative → 400; unknown id → 404', async () => {
    const task = await submitted({ runner: 'echo' });
    for (const wait of ['121', '-1', 'soon']) {
      const response = await get(`/tasks/${task['id']}?wait=${wait}`);
      assert.equal(response.statusCode, 400, `wait=${wait}: ${response.body}`);
      assert.equal(response.json().code, 'VALIDATION_FAILED');
    }
    const missing = await get(`/tasks/${UNKNOWN_ID}?wait=1`);
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'TASK_NOT_FOUND');
  });

  test('POST with Prefer: wait=1 and no worker → 202 with the queued task, Preference-Applied', async () => {
    const response = await submit({ runner: 'echo', input: 'x' }, { prefer: 'wait=1' });
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(response.headers['preference-applied'], 'wait=1');
    const task = response.json();
    assert.equal(task.status, 'queued');
    assert.equal(response.headers.location, `/tasks/${task.id}`);
    assert.equal((await jobsOf(task.id)).length, 1);
  });
});

describe('logs', () => {
  test('unknown or malformed id → 404, with and without follow', async () => {
    for (const url of [`/tasks/${UNKNOWN_ID}/logs`, `/tasks/${UNKNOWN_ID}/logs?follow=true`, '/tasks/nope/logs?follow=true']) {
      const response = await get(url);
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.json().code, 'TASK_NOT_FOUND');
    }
  });

  test('following a queued task that is cancelled: the stream ends, empty', async () => {
    const task = await submitted({ runner: 'echo' });
    // Cancelled only once the stream has read the (empty) log of the queued task.
    const { pending } = await startPastRead('berth.task_log_chunks', '%from berth.task_log_chunks%', () => get(`/tasks/${task['id']}/logs?follow=true`));
    assert.equal((await cancel(task['id'])).statusCode, 200);
    const response = await within(20_000, pending, 'the log stream should end with the cancel');
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.equal(response.body, '');
  });
});
