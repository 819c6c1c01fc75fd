/**
 * Which ticks a schedule takes: on time, after an outage under each missed policy, and how far the
 * schedule moves on. A clock ticking every `period` ms stands in for a cron expression.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LATE_AFTER_MS, MAX_COUNTED, latestBefore, planTicks, type TickClock } from '../../src/tasks/schedule-ticks.ts';

const every = (periodMs: number): TickClock => ({ next: (after) => new Date((Math.floor(after.getTime() / periodMs) + 1) * periodMs) });
const at = (iso: string): Date => new Date(iso);
const minute = every(60_000);

test('a tick due now is taken, and the schedule moves on to the first tick after now', () => {
  const plan = planTicks(minute, at('2026-12-03T10:00:00Z'), at('2026-12-03T10:00:00.400Z'), 'skip');
  assert.deepEqual(plan.take, [{ at: at('2026-12-03T10:00:00Z'), missed: 0 }]);
  assert.deepEqual([plan.passedOver, plan.next], [0, at('2026-12-03T10:01:00Z')]);
});

test('a tick not yet due: nothing is taken, and the pending tick stays', () => {
  const plan = planTicks(minute, at('2026-12-03T10:01:00Z'), at('2026-12-03T10:00:59Z'), 'once');
  assert.deepEqual(plan, { take: [], passedOver: 0, next: at('2026-12-03T10:01:00Z') });
});

test('a tick a little late (a slow poll) is still on time', () => {
  const plan = planTicks(minute, at('2026-12-03T10:00:00Z'), new Date(at('2026-12-03T10:00:00Z').getTime() + LATE_AFTER_MS), 'skip');
  assert.deepEqual(plan.take, [{ at: at('2026-12-03T10:00:00Z'), missed: 0 }]);
});

test('after an outage, missed: skip takes no missed tick, only one on time, and counts the rest', () => {
  // Down from 09:00:30 to 10:00:10: the ticks 09:01 … 10:00 came due meanwhile; 10:00 is on time.
  const plan = planTicks(minute, at('2026-12-03T09:01:00Z'), at('2026-12-03T10:00:10Z'), 'skip');
  assert.deepEqual(plan.take, [{ at: at('2026-12-03T10:00:00Z'), missed: 0 }]);
  assert.deepEqual([plan.passedOver, plan.next], [59, at('2026-12-03T10:01:00Z')]);
});

test('after an outage, missed: once takes one tick for all the missed ones: the latest, with their count', () => {
  const plan = planTicks(minute, at('2026-12-03T09:01:00Z'), at('2026-12-03T10:00:45Z'), 'once');
  assert.deepEqual(plan.take, [{ at: at('2026-12-03T10:00:00Z'), missed: 60 }]);
  assert.deepEqual([plan.passedOver, plan.next], [0, at('2026-12-03T10:01:00Z')]);
});

test('missed: once with a tick on time as well: the catch-up first, then the tick on time', () => {
  const plan = planTicks(minute, at('2026-12-03T09:01:00Z'), at('2026-12-03T10:00:10Z'), 'once');
  assert.deepEqual(plan.take, [{ at: at('2026-12-03T09:59:00Z'), missed: 59 }, { at: at('2026-12-03T10:00:00Z'), missed: 0 }]);
});

test('a daily schedule down for three days: once takes yesterday\'s tick; the count is three', () => {
  const day = every(86_400_000);
  const plan = planTicks(day, at('2026-12-01T00:00:00Z'), at('2026-12-03T12:00:00Z'), 'once');
  assert.deepEqual(plan.take, [{ at: at('2026-12-03T00:00:00Z'), missed: 3 }]);
  assert.deepEqual(plan.next, at('2026-12-04T00:00:00Z'));
});

test('a per-second schedule (the test hook) takes each tick on time, oldest first', () => {
  const plan = planTicks(every(1000), at('2026-12-03T10:00:01Z'), at('2026-12-03T10:00:03.200Z'), 'skip');
  assert.deepEqual(plan.take.map((t) => t.at.toISOString()), ['2026-12-03T10:00:01.000Z', '2026-12-03T10:00:02.000Z', '2026-12-03T10:00:03.000Z']);
});

test('missed ticks are counted up to a bound: a long outage of a frequent schedule costs bounded work', () => {
  const plan = planTicks(every(1000), at('2026-11-01T00:00:00Z'), at('2026-12-03T10:00:00.500Z'), 'skip');
  assert.equal(plan.passedOver, MAX_COUNTED);
  assert.deepEqual(plan.next, at('2026-12-03T10:00:01Z'));
});

test('latestBefore finds the latest tick strictly before an instant, whatever the period', () => {
  assert.deepEqual(latestBefore(minute, at('2026-12-03T10:00:00Z')), at('2026-12-03T09:59:00Z'));
  assert.deepEqual(latestBefore(every(30 * 86_400_000), at('2026-12-03T10:00:00Z'))!.getTime() % (30 * 86_400_000), 0);
  assert.equal(latestBefore({ next: () => new Date(8.64e15) }, at('2026-12-03T10:00:00Z')), null);
});
