/**
 * Rate limits: how many requests an API key (or a webhook sender's address) may make, written as
 * `N/s`, `N/m` or `N/h`: at most N in a burst, refilled evenly over the window. The buckets live in
 * PostgreSQL (rate-limit-store.ts), shared by every API process.
 */
import type { Pool } from './db.ts';
import { deleteIdleBuckets, secondsUntilToken, takeToken } from './rate-limit-store.ts';

export interface RateLimit {
  /** As written, for messages: "100/s". */
  readonly text: string;
  readonly burst: number;
  readonly perSecond: number;
}

const WINDOWS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/** `N/s`, `N/m`, `N/h` with N a positive integer up to a million; undefined otherwise. */
export function parseRate(text: string): RateLimit | undefined {
  const match = /^(\d{1,7})\s*\/\s*([smh])$/.exec(text.trim());
  if (match === null) return undefined;
  const count = Number(match[1]);
  if (count < 1 || count > 1_000_000) return undefined;
  return Object.freeze({ text: `${count}/${match[2]}`, burst: count, perSecond: count / WINDOWS[match[2]!]! });
}

export interface RateLimiter {
  /** Takes one request from `bucket`: null when allowed, else the seconds until one would be. */
  take(bucket: string, limit: RateLimit): Promise<number | null>;
}

export function createRateLimiter(pool: Pool): RateLimiter {
  return {
    async take(bucket, limit) {
      if (await takeToken(pool, bucket, limit.burst, limit.perSecond)) return null;
      return secondsUntilToken(pool, bucket, limit.burst, limit.perSecond);
    },
  };
}

/** Buckets idle this long are full again, so their rows can go. */
const IDLE_MS = 60 * 60 * 1000;

export function forgetIdleBuckets(pool: Pool): Promise<number> {
  return deleteIdleBuckets(pool, IDLE_MS);
}
