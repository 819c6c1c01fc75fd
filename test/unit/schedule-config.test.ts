import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config-error.ts';
import { parseRunnersConfig } from '../../src/runners/load-runners.ts';
import type { Schedule } from '../../src/runners/runner.ts';

const RUNNERS = `
runners:
  scanner:
    image: busybox
    input_schema: { type: object, required: [target], properties: { target: { type: string } }, additionalProperties: false }
  echo: { image: busybox }
workflows:
  scan-and-merge:
    input_schema: { type: object, required: [items], properties: { items: { type: array, items: { type: integer } } } }
    steps: { scan: { runner: echo } }
`;

function parse(text: string, options: { cronSeconds?: boolean } = {}) {
  return parseRunnersConfig(text, { env: {}, source: 'berth.yaml', ...options });
}

function schedule(text: string, name: string): Schedule {
  return parse(text).schedules?.get(name) ?? assert.fail(`no schedule ${name}`);
}

function problems(text: string, options: { cronSeconds?: boolean } = {}): readonly string[] {
  try {
    parse(text, options);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

/** The schedule's data, without its clock. */
function data({ clock: _, ...rest }: Schedule) {
  return rest;
}

test('a valid schedule resolves every field, with a clock in its zone', () => {
  const nightly = schedule(`${RUNNERS}
schedules:
  nightly-scan:
    cron: "30 2 * * *"
    timezone: Europe/Berlin
    workflow: scan-and-merge
    input: {items: [1, 2, 3]}
    overlap: allow
    missed: once
`, 'nightly-scan');
  assert.deepEqual(data(nightly), {
    name: 'nightly-scan',
    cron: '30 2 * * *',
    timezone: 'Europe/Berlin',
    target: { kind: 'workflow', name: 'scan-and-merge' },
    input: { items: [1, 2, 3] },
    overlap: 'allow',
    missed: 'once',
  });
  assert.equal(nightly.clock.next(new Date('2026-03-28T12:00:00Z')).toISOString(), '2026-03-29T01:00:00.000Z');
});

test('omitted fields take their defaults; a file without schedules has an empty map', () => {
  const hourly = schedule(`${RUNNERS}schedules: { hourly: { cron: "@hourly", runner: echo } }\n`, 'hourly');
  assert.deepEqual(data(hourly), {
    name: 'hourly', cron: '@hourly', timezone: 'UTC', target: { kind: 'runner', name: 'echo' }, input: null, overlap: 'skip', missed: 'skip',
  });
  assert.equal(hourly.clock.timezone, 'UTC');
  const none = parse(RUNNERS).schedules;
  assert.ok(none instanceof Map);
  assert.equal(none.size, 0);
});

test('the schedules and their inputs are frozen', () => {
  const config = parse(`${RUNNERS}schedules: { s: { cron: "@daily", workflow: scan-and-merge, input: { items: [1] } } }\n`);
  const s = config.schedules?.get('s') ?? assert.fail();
  const input = s.input as { items: number[] };
  for (const value of [s, s.target, s.clock, input, input.items]) assert.ok(Object.isFrozen(value));
});

test('a bad cron expression is reported at cron, in cron.ts\'s words', () => {
  assert.deepEqual(problems(`${RUNNERS}
schedules:
  a: { cron: "* 25 * * *", runner: echo }
  b: { cron: "* * * *", runner: echo }
  c: { cron: "@fortnightly", runner: echo }
  d: { cron: "", runner: echo }
  e: { cron: "0 0 30 2 *", runner: echo }
  f: { runner: echo }
  g: { cron: 5, runner: echo }
`), [
    'schedules.a.cron: field 2 (hour): 25 is out of range 0-23',
    'schedules.b.cron: expected five fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 4 field(s)',
    "schedules.c.cron: unknown macro '@fortnightly': use one of @hourly, @daily, @weekly, @monthly, @yearly, @annually",
    'schedules.d.cron: is empty: expected five fields (minute hour day-of-month month day-of-week) or a macro such as @daily',
    "schedules.e.cron: never fires: day-of-month '30' falls in none of the months '2'",
    'schedules.f.cron: is required',
    'schedules.g.cron: must be a string',
  ]);
});

test('a seconds field only with the test hook (cronSeconds)', () => {
  const text = `${RUNNERS}schedules: { fast: { cron: "*/2 * * * * *", runner: echo } }\n`;
  assert.deepEqual(problems(text), [
    'schedules.fast.cron: expected five fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 6 field(s)',
  ]);
  const fast = parse(text, { cronSeconds: true }).schedules?.get('fast') ?? assert.fail();
  assert.equal(fast.clock.next(new Date('2026-01-01T00:00:00Z')).toISOString(), '2026-01-01T00:00:02.000Z');
});

test('an unknown time zone is reported at timezone, and the expression is still checked', () => {
  assert.deepEqual(problems(`${RUNNERS}
schedules:
  a: { cron: "@daily", timezone: Mars/Olympus, runner: echo }
  b: { cron: "61 * * * *", timezone: Europe/Berlln, runner: echo }
  c: { cron: "@daily", timezone: "", runner: echo }
  d: { cron: "@daily", timezone: "+01:00", runner: echo }
`), [
    "schedules.a.timezone: unknown time zone 'Mars/Olympus': use an IANA name such as Europe/Berlin, or UTC",
    'schedules.b.cron: field 1 (minute): 61 is out of range 0-59',
    "schedules.b.timezone: unknown time zone 'Europe/Berlln': use an IANA name such as Europe/Berlin, or UTC",
    'schedules.c.timezone: must not be empty',
    "schedules.d.timezone: unknown time zone '+01:00': use an IANA name such as Europe/Berlin, or UTC",
  ]);
});

test('a schedule starts exactly one runner or workflow of the file', () => {
  assert.deepEqual(problems(`${RUNNERS}
schedules:
  neither: { cron: "@daily" }
  both: { cron: "@daily", runner: echo, workflow: scan-and-merge }
  typo: { cron: "@daily", runner: scaner }
  flow: { cron: "@daily", workflow: scan }
  empty: { cron: "@daily", runner: "" }
`), [
    'schedules.neither: needs runner or workflow (what it starts)',
    'schedules.both: give runner or workflow, not both',
    "schedules.typo.runner: no runner named 'scaner'",
    "schedules.flow.workflow: no workflow named 'scan'",
    'schedules.empty.runner: must not be empty',
  ]);
});

test("the input must pass the target's input_schema: every violation, under input", () => {
  assert.deepEqual(problems(`${RUNNERS}
schedules:
  a: { cron: "@daily", runner: scanner, input: { target: 5, extra: true } }
  b: { cron: "@daily", workflow: scan-and-merge, input: { items: [1, two, 3] } }
  c: { cron: "@daily", workflow: scan-and-merge }
  d: { cron: "@daily", runner: echo, input: [anything, goes] }
`), [
    "schedules.a.input: must NOT have additional property 'extra'",
    'schedules.a.input.target: must be string',
    'schedules.b.input.items.1: must be integer',
    'schedules.c.input: must be object',
  ]);
});

test('overlap and missed take only their values', () => {
  assert.deepEqual(problems(`${RUNNERS}schedules: { s: { cron: "@daily", runner: echo, overlap: queue, missed: all } }\n`), [
    'schedules.s.overlap: must be one of: skip, allow',
    'schedules.s.missed: must be one of: skip, once',
  ]);
});

test('unknown keys, bad names and entries that are not mappings are reported', () => {
  const rule = "use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit";
  assert.deepEqual(problems(`${RUNNERS}
schedules:
  "nightly scan": { cron: "@daily", runner: echo, timezon: UTC }
  plain: "@daily"
  list: [a]
`), [
    `schedules.nightly scan: invalid schedule name: ${rule}`,
    'schedules.nightly scan.timezon: unknown key',
    'schedules.plain: must be a mapping',
    'schedules.list: must be a mapping',
  ]);
  assert.deepEqual(problems(`${RUNNERS}schedules: [a]`), ['schedules: must be a mapping of schedule names to schedules']);
  assert.deepEqual(problems(`${RUNNERS}schedules:`), ['schedules: must be a mapping of schedule names to schedules']);
});

test('every problem of a schedules section is listed at once, with its path, in file order', () => {
  assert.deepEqual(problems(`${RUNNERS}
schedules:
  nightly-scan:
    cron: "30 2 * * * *"
    timezone: Europe/Berlim
    workflow: scan-and-merge
    input: {items: 3}
    overlap: never
  "-bad":
    runner: nobody
    missed: twice
    cron: "@daily"
`), [
    'schedules.nightly-scan.cron: expected five fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 6 field(s)',
    "schedules.nightly-scan.timezone: unknown time zone 'Europe/Berlim': use an IANA name such as Europe/Berlin, or UTC",
    'schedules.nightly-scan.input.items: must be array',
    'schedules.nightly-scan.overlap: must be one of: skip, allow',
    "schedules.-bad: invalid schedule name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "schedules.-bad.runner: no runner named 'nobody'",
    'schedules.-bad.missed: must be one of: skip, once',
  ]);
});
