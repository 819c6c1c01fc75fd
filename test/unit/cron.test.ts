import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CronError, isTimeZone, localTime, parseCron } from '../../src/cron.ts';

/** The `count` ticks after `after`, as ISO strings in UTC. */
function ticks(expression: string, timezone: string, after: string, count: number, options: { seconds?: boolean } = {}): string[] {
  return parseCron(expression, timezone, options).upcoming(new Date(after), count).map((tick) => tick.toISOString());
}

function next(expression: string, timezone: string, after: string): string {
  return parseCron(expression, timezone).next(new Date(after)).toISOString();
}

function refusal(expression: string, timezone = 'UTC', options: { seconds?: boolean } = {}): string {
  try {
    parseCron(expression, timezone, options);
  } catch (error) {
    assert.ok(error instanceof CronError, String(error));
    return error.message;
  }
  return assert.fail(`expected '${expression}' to be refused`);
}

test('UTC: steps, fixed times and the macros', () => {
  assert.deepEqual(ticks('*/5 * * * *', 'UTC', '2026-01-01T00:03:00Z', 3), ['2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z', '2026-01-01T00:15:00.000Z']);
  assert.deepEqual(ticks('30 2 * * *', 'UTC', '2026-01-01T02:30:00Z', 2), ['2026-01-02T02:30:00.000Z', '2026-01-03T02:30:00.000Z']);
  assert.deepEqual(ticks('@hourly', 'UTC', '2026-01-01T00:00:00Z', 2), ['2026-01-01T01:00:00.000Z', '2026-01-01T02:00:00.000Z']);
  assert.deepEqual(ticks('@daily', 'UTC', '2026-01-01T12:00:00Z', 2), ['2026-01-02T00:00:00.000Z', '2026-01-03T00:00:00.000Z']);
  // 2026-01-04 is a Sunday.
  assert.deepEqual(ticks('@weekly', 'UTC', '2026-01-01T00:00:00Z', 2), ['2026-01-04T00:00:00.000Z', '2026-01-11T00:00:00.000Z']);
  assert.equal(next('@monthly', 'UTC', '2026-01-01T00:00:00Z'), '2026-02-01T00:00:00.000Z');
  assert.equal(next('@yearly', 'UTC', '2026-01-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
  assert.equal(next('@annually', 'UTC', '2026-06-01T00:00:00Z'), '2027-01-01T00:00:00.000Z');
});

test('next is strictly after: a tick at `after` itself is not returned, one a millisecond later is', () => {
  assert.equal(next('30 2 * * *', 'UTC', '2026-01-01T02:30:00Z'), '2026-01-02T02:30:00.000Z');
  assert.equal(next('30 2 * * *', 'UTC', '2026-01-01T02:29:59.999Z'), '2026-01-01T02:30:00.000Z');
});

test('a sparse expression finds its next tick years ahead without delay', () => {
  assert.deepEqual(ticks('0 0 29 2 *', 'UTC', '2026-01-01T00:00:00Z', 2), ['2028-02-29T00:00:00.000Z', '2032-02-29T00:00:00.000Z']);
});

test('Europe/Berlin spring-forward: 02:30 does not exist on 2026-03-29 and fires once, at 03:00 CEST', () => {
  assert.deepEqual(ticks('30 2 * * *', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3), [
    '2026-03-28T01:30:00.000Z', // 02:30 CET
    '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first instant after the gap
    '2026-03-30T00:30:00.000Z', // 02:30 CEST
  ]);
});

test('several matching times in one gap fire once, at the end of the gap', () => {
  assert.deepEqual(ticks('*/15 2 * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', 2), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:00:00.000Z']);
  // From inside the gap's run (a tick at 01:00Z just fired), the gap's other times do not fire again.
  assert.equal(next('*/15 2 * * *', 'Europe/Berlin', '2026-03-29T01:00:00Z'), '2026-03-30T00:00:00.000Z');
  assert.equal(next('*/15 2 * * *', 'Europe/Berlin', '2026-03-29T00:59:59Z'), '2026-03-29T01:00:00.000Z');
});

test('Europe/Berlin fall-back: 02:30 happens twice on 2026-10-25 and fires once, at the first', () => {
  assert.deepEqual(ticks('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 3), [
    '2026-10-25T00:30:00.000Z', // 02:30 CEST; not 01:30Z, 02:30 CET
    '2026-10-26T01:30:00.000Z',
    '2026-10-27T01:30:00.000Z',
  ]);
  // After the first pass's 02:45 and in the second pass's 02:15, the repeat is not a tick either.
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2026-10-25T00:45:00Z'), '2026-10-26T01:30:00.000Z');
  assert.equal(next('30 2 * * *', 'Europe/Berlin', '2026-10-25T01:15:00Z'), '2026-10-26T01:30:00.000Z');
  // Times after the repeated hour come in their place.
  assert.deepEqual(ticks('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 3), ['2026-10-25T00:00:00.000Z', '2026-10-25T02:00:00.000Z', '2026-10-25T03:00:00.000Z']);
});

test('America/New_York: the 2026-03-08 gap and the 2026-11-01 repeat', () => {
  assert.deepEqual(ticks('30 2 * * *', 'America/New_York', '2026-03-07T12:00:00Z', 3), [
    '2026-03-08T07:00:00.000Z', // 03:00 EDT
    '2026-03-09T06:30:00.000Z',
    '2026-03-10T06:30:00.000Z',
  ]);
  assert.deepEqual(ticks('30 1 * * *', 'America/New_York', '2026-10-31T12:00:00Z', 2), [
    '2026-11-01T05:30:00.000Z', // 01:30 EDT, not 06:30Z (01:30 EST)
    '2026-11-02T06:30:00.000Z',
  ]);
  assert.equal(next('30 1 * * *', 'America/New_York', '2026-11-01T05:45:00Z'), '2026-11-02T06:30:00.000Z');
});

test('a zone that skipped a whole day (Pacific/Apia, 2011-12-30) fires its midnight once, at the day after', () => {
  assert.deepEqual(ticks('0 0 * * *', 'Pacific/Apia', '2011-12-28T11:00:00Z', 3), [
    '2011-12-29T10:00:00.000Z', // 2011-12-29 00:00 -10:00
    '2011-12-30T10:00:00.000Z', // 2011-12-31 00:00 +14:00; 12-30 never happened there
    '2011-12-31T10:00:00.000Z',
  ]);
});

test('upcoming is strictly increasing, across both transitions of a year', () => {
  for (const after of ['2026-03-28T22:00:00Z', '2026-10-24T22:00:00Z']) {
    const list = ticks('*/20 * * * *', 'Europe/Berlin', after, 40).map((iso) => Date.parse(iso));
    assert.equal(list.length, 40);
    list.slice(1).forEach((tick, i) => assert.ok(tick > list[i]!, `${new Date(tick).toISOString()} after ${new Date(list[i]!).toISOString()}`));
  }
  assert.equal(parseCron('@daily', 'UTC').upcoming(new Date('2026-01-01T00:00:00Z'), 5).length, 5);
  assert.deepEqual(parseCron('@daily', 'UTC').upcoming(new Date('2026-01-01T00:00:00Z'), 0), []);
});

test('the seconds field is a test hook: only with seconds: true', () => {
  assert.deepEqual(ticks('*/2 * * * * *', 'UTC', '2026-01-01T00:00:00Z', 3, { seconds: true }), [
    '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:04.000Z', '2026-01-01T00:00:06.000Z',
  ]);
  // Five fields still mean minutes there.
  assert.equal(parseCron('*/5 * * * *', 'UTC', { seconds: true }).next(new Date('2026-01-01T00:00:00Z')).toISOString(), '2026-01-01T00:05:00.000Z');
  assert.equal(
    refusal('*/2 * * * * *'),
    'expected five fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 6 field(s)',
  );
  assert.equal(refusal('60 * * * * *', 'UTC', { seconds: true }), 'field 1 (second): 60 is out of range 0-59');
  assert.equal(refusal('0 0 25 * * *', 'UTC', { seconds: true }), 'field 3 (hour): 25 is out of range 0-23');
});

test('the clock keeps the expression and zone as given', () => {
  const clock = parseCron('30 2 * * *', 'Europe/Berlin');
  assert.equal(clock.expression, '30 2 * * *');
  assert.equal(clock.timezone, 'Europe/Berlin');
});

test('refusals say what is wrong and where', () => {
  const expected = 'five fields (minute hour day-of-month month day-of-week)';
  assert.equal(refusal(''), `is empty: expected ${expected} or a macro such as @daily`);
  assert.equal(refusal('   '), `is empty: expected ${expected} or a macro such as @daily`);
  assert.equal(refusal('', 'UTC', { seconds: true }), `is empty: expected ${expected}, six with a leading seconds field, or a macro such as @daily`);
  assert.equal(refusal('* * * *'), `expected ${expected} or a macro such as @daily, got 4 field(s)`);
  assert.equal(refusal('* * * * * * *', 'UTC', { seconds: true }), `expected ${expected}, six with a leading seconds field, or a macro such as @daily, got 7 field(s)`);
  assert.equal(refusal('* 25 * * *'), 'field 2 (hour): 25 is out of range 0-23');
  assert.equal(refusal('60 * * * *'), 'field 1 (minute): 60 is out of range 0-59');
  assert.equal(refusal('* * 0 * *'), 'field 3 (day-of-month): 0 is out of range 1-31');
  assert.equal(refusal('* * * 13 *'), 'field 4 (month): 13 is out of range 1-12');
  assert.equal(refusal('* * * * 8'), 'field 5 (day-of-week): 8 is out of range 0-7');
  assert.equal(refusal('1-70 * * * *'), 'field 1 (minute): 1-70 is out of range 0-59');
  assert.equal(refusal('5-1 * * * *'), 'field 1 (minute): range 5-1 runs backwards');
  assert.equal(refusal('*/0 * * * *'), "field 1 (minute): '*/0': a step must be at least 1");
  assert.equal(refusal('a b c d e'), "field 1 (minute): 'a' is not a number, name, *, range, list or step");
  assert.equal(refusal('* * * foo *'), "field 4 (month): unknown name 'foo'");
  assert.equal(refusal('H * * * *'), "field 1 (minute): 'H': hashed values (H) are not supported");
  assert.equal(refusal('@bogus'), "unknown macro '@bogus': use one of @hourly, @daily, @weekly, @monthly, @yearly, @annually");
  assert.equal(refusal('0 0 30 2 *'), "never fires: day-of-month '30' falls in none of the months '2'");
  assert.equal(refusal('* * * * *', 'Mars/Olympus'), "unknown time zone 'Mars/Olympus': use an IANA name such as Europe/Berlin, or UTC");
});

test('names and the usual extensions are accepted', () => {
  // 2026-01-01 is a Thursday; "thu" must not read as a hashed H.
  assert.equal(next('0 9 * * thu', 'UTC', '2026-01-01T00:00:00Z'), '2026-01-01T09:00:00.000Z');
  assert.equal(next('0 9 * JAN-MAR MON-FRI', 'UTC', '2026-01-03T00:00:00Z'), '2026-01-05T09:00:00.000Z');
  assert.equal(next('0 0 L * *', 'UTC', '2026-02-01T00:00:00Z'), '2026-02-28T00:00:00.000Z');
});

test('isTimeZone knows IANA names, UTC and links, and nothing else', () => {
  for (const name of ['UTC', 'Europe/Berlin', 'America/New_York', 'US/Eastern', 'Etc/UTC']) assert.equal(isTimeZone(name), true, name);
  for (const name of ['Mars/Olympus', '', 'Local', '+01:00', 'Z']) assert.equal(isTimeZone(name), false, name);
});

test('localTime is ISO 8601 wall time with the offset in force', () => {
  assert.equal(localTime(new Date('2026-03-29T01:00:00Z'), 'Europe/Berlin'), '2026-03-29T03:00:00+02:00');
  assert.equal(localTime(new Date('2026-03-29T00:59:59Z'), 'Europe/Berlin'), '2026-03-29T01:59:59+01:00');
  assert.equal(localTime(new Date('2026-03-29T01:00:00Z'), 'UTC'), '2026-03-29T01:00:00+00:00');
  assert.equal(localTime(new Date('2026-11-01T06:30:00Z'), 'America/New_York'), '2026-11-01T01:30:00-05:00');
  assert.equal(localTime(new Date('2026-01-01T00:00:00.250Z'), 'Asia/Kolkata'), '2026-01-01T05:30:00.250+05:30');
});
