/**
 * Which ticks of a schedule to take now: pure arithmetic over the schedule's clock, so the rules
 * are tested without a database. A tick is on time when it came due within LATE_AFTER_MS: the
 * ticking processes poll every second, so an older one came due while none was running (an
 * outage), and the schedule's missed policy decides what it is owed.
 */

/** The schedule's clock: the first tick strictly after an instant (src/cron.ts). */
export interface TickClock {
  next(after: Date): Date;
}

export type MissedPolicy = 'skip' | 'once';

export interface TickToTake {
  readonly at: Date;
  /** How many missed ticks this one stands for (missed: once); 0 for a tick on time. */
  readonly missed: number;
}

export interface TickPlan {
  /** Oldest first. */
  readonly take: readonly TickToTake[];
  /** Missed ticks passed over (missed: skip), counted up to MAX_COUNTED. */
  readonly passedOver: number;
  /** The schedule's next pending tick: the first after `now`. */
  readonly next: Date;
}

export const LATE_AFTER_MS = 30_000;
/**
 * Missed ticks are counted up to this many: each costs a step of the clock (tens of microseconds),
 * and a pass must not hold the worker's event loop while a frequent schedule catches up on a week.
 */
export const MAX_COUNTED = 1_000;

/** `pending` is the schedule's earliest tick not yet taken; `now` is the database's clock. */
export function planTicks(clock: TickClock, pending: Date, now: Date, missed: MissedPolicy): TickPlan {
  const next = clock.next(now);
  if (pending > now) return { take: [], passedOver: 0, next: pending };
  const lateBound = new Date(now.getTime() - LATE_AFTER_MS);
  const onTime: TickToTake[] = [];
  for (let at = pending >= lateBound ? pending : clock.next(new Date(lateBound.getTime() - 1)); at <= now; at = clock.next(at)) {
    onTime.push({ at, missed: 0 });
  }
  if (pending >= lateBound) return { take: onTime, passedOver: 0, next };
  const lateCount = countTicks(clock, pending, lateBound);
  if (missed === 'skip') return { take: onTime, passedOver: lateCount, next };
  // Never before `pending`: a pending tick is one of the clock's, unless a changed clock put it there.
  const latest = latestBefore(clock, lateBound);
  const latestLate = latest === null || latest < pending ? pending : latest;
  return { take: [{ at: latestLate, missed: lateCount }, ...onTime], passedOver: 0, next };
}

/** Ticks in [from, until), `from` being one; counted up to MAX_COUNTED. */
function countTicks(clock: TickClock, from: Date, until: Date): number {
  let count = 0;
  for (let at = from; at < until && count < MAX_COUNTED; at = clock.next(at)) count += 1;
  return count;
}

// Windows to look back through for the latest tick before an instant, shortest first: the walk
// forward from the first window that holds a tick is then short whatever the schedule's period.
const LOOK_BACK_MS = [60_000, 3_600_000, 86_400_000, 7 * 86_400_000, 32 * 86_400_000, 367 * 86_400_000, 8 * 367 * 86_400_000];

/** The latest tick strictly before `until`, or null when none falls within eight years. */
export function latestBefore(clock: TickClock, until: Date): Date | null {
  for (const window of LOOK_BACK_MS) {
    let at = clock.next(new Date(until.getTime() - window));
    if (at >= until) continue;
    for (let following = clock.next(at); following < until; following = clock.next(at)) at = following;
    return at;
  }
  return null;
}
