/**
 * Parsing of the human-friendly quantities the runners file accepts: durations ("1h30m") and
 * sizes ("256m", "1.5GiB"). Pure functions: they answer `undefined` for anything they cannot read
 * and leave range rules (positive, upper bounds) and error wording to the caller.
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/**
 * A duration string is one or more "<number><unit>" terms with no separators (Go style), plus
 * days ("7d"), which retention periods are naturally given in; a day is 24 hours.
 */
const DURATION = /^(?:(?:\d+(?:\.\d+)?|\.\d+)(?:ms|d|h|m|s))+$/;
const DURATION_TERM = /(\d+(?:\.\d+)?|\.\d+)(ms|d|h|m|s)/g;

/**
 * A duration in whole milliseconds (rounded), or undefined when `value` is not a non-negative
 * duration. A number is seconds (the unit of the classic dispatcher's `timeout`); a string needs
 * explicit units ("30s", "5m", "1h30m", "500ms", "1.5s", "7d"): a bare "30" is refused, because readers
 * disagree on whether it means seconds or milliseconds.
 */
export function parseDuration(value: number | string): number | undefined {
  if (typeof value === 'number') {
    return value >= 0 ? finiteOrUndefined(Math.round(value * 1000)) : undefined;
  }
  if (!DURATION.test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(DURATION_TERM)) {
    total += Number(amount) * (DURATION_UNITS_MS[unit as string] as number);
  }
  return finiteOrUndefined(Math.round(total));
}

function finiteOrUndefined(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}

const SIZE_MULTIPLIERS: Readonly<Record<string, number>> = {
  '': 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
  p: 2 ** 50,
};

/** "<number>[ ]<unit>" with unit b, k, kb, kib, m, mb, mib, ... in any case. */
const SIZE = /^(\d+(?:\.\d+)?|\.\d+) ?(?:([kmgtp])(?:i?b)?|b)?$/i;

/**
 * A size in bytes, or undefined when `value` is not a non-negative size. A number is bytes and
 * must be an integer. In strings every unit is binary, as in `docker run --memory` and compose
 * ("1g", "1gb" and "1GiB" are all 2^30 bytes): the engine reads these limits the same way, so a
 * value copied from a compose file means the same here. Fractions round down to whole bytes.
 */
export function parseSize(value: number | string): number | undefined {
  if (typeof value === 'number') {
    return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  }
  const match = SIZE.exec(value);
  if (match === null) return undefined;
  const unit = (match[2] ?? '').toLowerCase();
  const bytes = Math.floor(Number(match[1]) * (SIZE_MULTIPLIERS[unit] as number));
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
