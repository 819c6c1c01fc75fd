/**
 * Cron expressions in a time zone: the instants at which a schedule fires.
 *
 * A tick is a wall-clock time in the zone that the expression matches. Its instant (the tick's
 * canonical instant) is the earliest instant whose wall-clock time is at or past it:
 * - a wall time that exists once: that instant;
 * - one a spring-forward gap skips (Europe/Berlin 2026-03-29 02:30): the first instant after the
 *   gap (03:00 CEST); several matching times in one gap become that one instant, so it fires once;
 * - one a fall-back repeats (Europe/Berlin 2026-10-25 02:30): its first occurrence, never the second.
 *
 * Matching is done on naive wall-clock time (cron-parser in UTC, which has no DST, over wall times
 * written as if they were UTC), and only the mapping to instants knows the zone, through Intl's
 * offsets. Pure: no clock of its own, and the zone data is that of the running Node's ICU.
 */
import { CronExpressionParser } from 'cron-parser';

export class CronError extends Error {
  override readonly name = 'CronError';
}

export interface CronClock {
  readonly expression: string;
  readonly timezone: string;
  /** The first tick strictly after `after`. */
  next(after: Date): Date;
  /** The `count` ticks strictly after `after`. */
  upcoming(after: Date, count: number): Date[];
}

const UNITS = ['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
const FIVE_FIELDS = 'five fields (minute hour day-of-month month day-of-week)';
const MACROS: ReadonlyMap<string, string> = new Map([
  ['@hourly', '0 * * * *'],
  ['@daily', '0 0 * * *'],
  ['@weekly', '0 0 * * 0'],
  ['@monthly', '0 0 1 * *'],
  ['@yearly', '0 0 1 1 *'],
  ['@annually', '0 0 1 1 *'],
]);
const DAY_MS = 86_400_000;

/**
 * Five fields (minute hour day-of-month month day-of-week) or a macro; with seconds: true a sixth
 * leading seconds field is allowed too (a test hook). Throws CronError.
 */
export function parseCron(expression: string, timezone: string, options: { readonly seconds?: boolean } = {}): CronClock {
  if (!isTimeZone(timezone)) throw new CronError(`unknown time zone '${timezone}': use an IANA name such as Europe/Berlin, or UTC`);
  const fields = splitFields(expression, options.seconds === true);
  const sixFields = fields.join(' ');
  try {
    CronExpressionParser.parse(sixFields, { tz: 'UTC' });
  } catch (error) {
    throw new CronError(describeExpressionError(fields, (error as Error).message), { cause: error });
  }
  const next = (after: Date): Date => nextTick(sixFields, timezone, after);
  return Object.freeze({
    expression,
    timezone,
    next,
    upcoming(after: Date, count: number): Date[] {
      const ticks: Date[] = [];
      let from = after;
      while (ticks.length < count) {
        from = next(from);
        ticks.push(from);
      }
      return ticks;
    },
  });
}

/** IANA names (and their links, such as US/Eastern), as the running Node's Intl knows them; 'UTC' too. */
export function isTimeZone(name: string): boolean {
  // Newer engines also take offsets such as "+01:00" as zones; an IANA name starts with a letter.
  if (!/^[A-Za-z]/.test(name)) return false;
  try {
    formatter(name);
    return true;
  } catch (error) {
    // Intl's way of saying "no such zone".
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/** The instant as ISO 8601 local time in the zone with its offset, e.g. "2026-03-29T03:00:00+02:00". */
export function localTime(instant: Date, timezone: string): string {
  const ms = instant.getTime();
  const wall = wallTime(ms, timezone);
  const iso = new Date(wall).toISOString().slice(0, -1);
  const offset = Math.round((wall - ms) / 1000);
  const [hours, minutes, seconds] = [Math.floor(Math.abs(offset) / 3600), Math.floor(Math.abs(offset) / 60) % 60, Math.abs(offset) % 60];
  const pad = (n: number) => String(n).padStart(2, '0');
  // Historical local mean times have offsets with seconds; modern zones never do.
  const zone = `${offset < 0 ? '-' : '+'}${pad(hours)}:${pad(minutes)}${seconds === 0 ? '' : `:${pad(seconds)}`}`;
  return `${ms % 1000 === 0 ? iso.slice(0, -4) : iso}${zone}`;
}

/** The six fields cron-parser is given (seconds first, '0' when not written), or a CronError. */
function splitFields(expression: string, seconds: boolean): string[] {
  const trimmed = expression.trim();
  const expected = seconds ? `${FIVE_FIELDS}, six with a leading seconds field,` : FIVE_FIELDS;
  if (trimmed === '') throw new CronError(`is empty: expected ${expected} or a macro such as @daily`);
  if (trimmed.startsWith('@')) {
    const macro = MACROS.get(trimmed);
    if (macro === undefined) throw new CronError(`unknown macro '${trimmed}': use one of ${[...MACROS.keys()].join(', ')}`);
    return ['0', ...macro.split(' ')];
  }
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5 && !(seconds && fields.length === 6)) {
    throw new CronError(`expected ${expected} or a macro such as @daily, got ${fields.length} field(s)`);
  }
  const six = fields.length === 5 ? ['0', ...fields] : fields;
  six.forEach((value, unit) => {
    if (fields.length === 6 || unit > 0) checkField(value, unit, `field ${unit + fields.length - 5} (${UNITS[unit]!})`);
  });
  return six;
}

/** Each field alone (the others '*'), so that a problem can be put down to its field. */
function checkField(value: string, unit: number, label: string): void {
  // Hashed values depend on a seed: without a stable one, two processes would pick different minutes.
  if (/(?:^|[^a-z])h/i.test(value)) throw new CronError(`${label}: '${value}': hashed values (H) are not supported`);
  const alone = UNITS.map((_, other) => (other === unit ? value : other === 0 ? '0' : '*')).join(' ');
  try {
    CronExpressionParser.parse(alone, { tz: 'UTC' });
  } catch (error) {
    throw new CronError(`${label}: ${describeFieldError(value, (error as Error).message)}`, { cause: error });
  }
}

/** cron-parser's messages, reworded where they do not say what to fix. */
function describeFieldError(value: string, message: string): string {
  const range = /got (?:value|range) (\S+) expected range (\S+)/.exec(message);
  if (range) return `${range[1]} is out of range ${range[2]}`;
  const backwards = /^Invalid range: ([^,]+),/.exec(message);
  if (backwards) return `range ${backwards[1]} runs backwards`;
  const alias = /cannot resolve alias "(\w+)"/.exec(message);
  if (alias) return `unknown name '${alias[1]}'`;
  if (message.includes('cannot repeat at every 0 time')) return `'${value}': a step must be at least 1`;
  if (message.startsWith('Invalid characters')) return `'${value}' is not a number, name, *, range, list or step`;
  return `'${value}': ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
}

/** A problem of the fields together, each field being valid alone. */
function describeExpressionError(fields: readonly string[], message: string): string {
  if (message.includes('Invalid explicit day of month definition')) {
    return `never fires: day-of-month '${fields[3]}' falls in none of the months '${fields[4]}'`;
  }
  return message;
}

/**
 * Walks the matching wall times forward from `after`'s own, and returns the first whose canonical
 * instant is past `after`. Starting there misses nothing: a wall time before `after`'s has been
 * reached by `after`, so its canonical instant is not past it. Skipping canonical instants at or
 * before `after` is what keeps `after` in the second pass of a repeated hour from firing the hour
 * again, and several times of one gap from firing more than once.
 */
function nextTick(sixFields: string, timezone: string, after: Date): Date {
  const afterMs = after.getTime();
  const walls = CronExpressionParser.parse(sixFields, { tz: 'UTC', currentDate: new Date(wallTime(afterMs, timezone)) });
  for (;;) {
    let wall: number;
    try {
      wall = walls.next().getTime();
    } catch (error) {
      throw new CronError(`'${sixFields}' has no tick after ${after.toISOString()}: ${(error as Error).message}`, { cause: error });
    }
    const instant = canonicalInstant(wall, timezone);
    if (instant > afterMs) return new Date(instant);
  }
}

/**
 * The earliest instant whose wall time in the zone is `wall` or later. The zone's offsets a day
 * before and after give the candidates; those that map back to `wall` are its occurrences (two in
 * a repeated hour: the earlier wins). None means `wall` is in a gap, which those two candidates
 * bracket: the answer is the transition between them.
 */
function canonicalInstant(wall: number, timezone: string): number {
  const offsets = new Set([wall - DAY_MS, wall, wall + DAY_MS].map((at) => wallTime(at, timezone) - at));
  const candidates = [...offsets].map((offset) => wall - offset);
  const occurrences = candidates.filter((instant) => wallTime(instant, timezone) === wall);
  if (occurrences.length > 0) return Math.min(...occurrences);
  // Transitions fall on whole seconds; below the earlier candidate the wall time is before `wall`.
  let [before, atOrPast] = [Math.min(...candidates) / 1000, Math.max(...candidates) / 1000];
  while (atOrPast - before > 1) {
    const middle = Math.floor((before + atOrPast) / 2);
    if (wallTime(middle * 1000, timezone) >= wall) atOrPast = middle;
    else before = middle;
  }
  return atOrPast * 1000;
}

/** The wall-clock time at `instant` in the zone, as the milliseconds of the UTC date with the same fields. */
function wallTime(instant: number, timezone: string): number {
  const parts = formatter(timezone).formatToParts(instant);
  const field = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((part) => part.type === type)?.value);
  const ms = ((instant % 1000) + 1000) % 1000;
  return Date.UTC(field('year'), field('month') - 1, field('day'), field('hour'), field('minute'), field('second')) + ms;
}

/** One per zone: building a DateTimeFormat costs far more than formatting with one. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let format = formatters.get(timezone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timezone, format);
  }
  return format;
}
