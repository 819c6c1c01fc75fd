/**
 * How a schedule's tick is taken, in-process on a fresh database (no worker: what a tick starts is
 * only queued): a tick taken again after a crash starts nothing more, ticks taken by several
 * processes at once start one run, and a tick whose start is refused is recorded and passed. The
 * schedules of schedule-runners.yaml are synced as every process syncs them; the tests move a
 * yearly schedule's pending tick into the past, as an outage leaves it.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { startApiStack, type ApiStack } from '../helpers/stack.ts';

const FIXTURE = fileURLToPath(new URL('../fixtures/schedule-runners.yaml', import.meta.url));
/** The yearly schedules' latest tick and their next one, whatever year the test runs in. */
const YEAR = new Date().getUTCFullYear();
const NEW_YEAR = `${YEAR}-01-01T00:00:00.000Z`;
const NEXT_NEW_YEAR = `${YEAR + 1}-01-01T00:00:00.000Z`;

let stack: ApiStack;
before(async () => { stack = await startApiStack({ runnersFile: FIXTURE, cronSeconds: true }); });
after(async () => { await stack?.close(); });

async function tasksOf(schedule: string): Promise<{ id: string; scheduled_for: Date }[]> {
  const { rows } = await stack.pool.query<{ id: string; scheduled_for: Date }>(
    `select id, scheduled_for from berth.tasks where schedule = $1 order by id`, [schedule],
  );
  return rows;
}

const pendingAt = (schedule: string, at: string) =>
  stack.pool.query(`update berth.schedules set next_tick_at = $2 where name = $1`, [schedule, at]);

test('a tick taken again (its run started, then the process died before the schedule moved on) starts nothing more', async () => {
  await pendingAt('catch-up', NEW_YEAR);
  await stack.schedules.tickDue();
  const first = await tasksOf('catch-up');
  assert.equal(first.length, 1);
  assert.equal(first[0]!.scheduled_for.toISOString(), NEW_YEAR);
  // As the row stands when the transaction that would have moved it on never committed.
  await pendingAt('catch-up', NEW_YEAR);
  await stack.schedules.tickDue();
  assert.deepEqual(await tasksOf('catch-up'), first);
  const { rows } = await stack.pool.query(`select next_tick_at from berth.schedules where name = 'catch-up'`);
  assert.equal(rows[0].next_tick_at.toISOString(), NEXT_NEW_YEAR, 'the schedule moved on');
});

test('processes taking the same due tick at once start it once', async () => {
  await stack.pool.query(`delete from berth.schedule_ticks where schedule = 'passed-over'`);
  // missed: skip passes over an old tick; one a second old is on time and taken.
  await stack.pool.query(`update berth.schedules set next_tick_at = now() - interval '1 second' where name = 'passed-over'`);
  const services = [stack.schedules, stack.otherScheduleService(), stack.otherScheduleService()];
  await Promise.all(services.map((service) => service.tickDue()));
  assert.equal((await tasksOf('passed-over')).length, 1);
  const { rows } = await stack.pool.query(`select count(*)::int as n from berth.schedule_ticks where schedule = 'passed-over'`);
  assert.equal(rows[0].n, 1);
});

test('a tick whose start is refused is recorded as failed with the reason, queues nothing, and the schedule moves on', async () => {
  // The stored definition names a runner this process does not have (another process's newer file, say).
  await stack.pool.query(
    `update berth.schedules set definition = jsonb_set(definition, '{target,name}', '"gone"'), next_tick_at = $1 where name = 'catch-up'`,
    [NEW_YEAR],
  );
  const queued = (await tasksOf('catch-up')).length;
  await stack.pool.query(`delete from berth.schedule_ticks where schedule = 'catch-up'`);
  await stack.schedules.tickDue();
  assert.equal((await tasksOf('catch-up')).length, queued);
  const detail = await stack.schedules.get('catch-up');
  assert.deepEqual([detail.lastTick?.outcome, detail.lastTick?.taskId, detail.lastTick?.scheduledFor], ['failed', null, NEW_YEAR]);
  assert.match(detail.lastTick!.message!, /gone/);
  const { rows } = await stack.pool.query(`select next_tick_at from berth.schedules where name = 'catch-up'`);
  assert.equal(rows[0].next_tick_at.toISOString(), NEXT_NEW_YEAR);
  // A manual trigger is refused the same way, as a conflict with the file (the client sent nothing wrong).
  const response = await stack.app.inject({ method: 'POST', url: '/schedules/catch-up/trigger' });
  assert.equal(response.statusCode, 409, response.body);
  assert.equal(response.json().code, 'SCHEDULE_REFUSED');
  assert.match(response.json().message, /gone/);
  assert.equal((await tasksOf('catch-up')).length, queued, 'nothing was queued');
});

test('a sync puts the file back: the definition the file declares replaces what the database held', async () => {
  await stack.pool.query(`update berth.schedules set definition = jsonb_set(definition, '{missed}', '"skip"') where name = 'catch-up'`);
  assert.equal((await stack.schedules.get('catch-up')).missed, 'skip');
  await stack.schedules.sync();
  const detail = await stack.schedules.get('catch-up');
  assert.deepEqual([detail.runner, detail.missed, detail.overlap], ['echo', 'once', 'allow']);
});

test('concurrent manual triggers each start a run, holding no connection while they wait for another', async () => {
  // More triggers than the stack's pool has connections: none may wait on a connection it holds.
  const responses = await Promise.all(Array.from({ length: 12 }, () => stack.app.inject({ method: 'POST', url: '/schedules/every-2s/trigger' })));
  for (const response of responses) assert.equal(response.statusCode, 202, response.body);
  const ids = new Set(responses.map((r) => r.json().taskId));
  assert.equal(ids.size, 12);
});
