/**
 * The `rate_limits:` section of the runners file, and the rate a key may set for itself: `N/s`,
 * `N/m`, `N/h` (rate-limits.ts) or `none`.
 */
import { parseRate, type RateLimit } from '../rate-limits.ts';
import type { RateLimits } from './runner.ts';
import { isMapping } from './runner-config-schema.ts';
import type { SectionContext } from './webhook-config.ts';

/** Generous enough for a CI system or a busy Jira; `rate_limits:` changes them, `none` turns one off. */
export const DEFAULT_RATE_LIMITS: RateLimits = Object.freeze({ keys: parseRate('100/s'), webhooks: parseRate('50/s') });

export function resolveRateLimits(section: unknown, context: SectionContext): RateLimits {
  if (!isMapping(section)) return DEFAULT_RATE_LIMITS;
  const at = (key: 'keys' | 'webhooks'): RateLimit | undefined => {
    const value = section[key];
    return typeof value === 'string' ? rateOf(value, ['rate_limits', key], context) : DEFAULT_RATE_LIMITS[key];
  };
  return Object.freeze({ keys: at('keys'), webhooks: at('webhooks') });
}

export function rateOf(value: string, path: readonly string[], context: SectionContext): RateLimit | undefined {
  if (value === 'none') return undefined;
  const rate = parseRate(value);
  if (rate === undefined) context.report(path, 'must be a rate such as 100/s, 600/m or 10000/h (at most 1000000 a window), or none');
  return rate;
}
