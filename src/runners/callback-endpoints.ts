/**
 * Which callbacks endpoint a callback URL falls under: the longest endpoint URL that is a prefix of
 * it at a boundary (the prefix ends with `/`, or the URL goes on with `/`, `?` or `#`), so that
 * `https://hooks.example.com/ci` covers `https://hooks.example.com/ci/123` but neither
 * `https://hooks.example.com/cid` nor `https://hooks.example.com.evil.org/`. Both sides are
 * compared in their normalized form (WHATWG URL href: lower-case host, default port dropped).
 */

/**
 * WHATWG URL resolves `/../` but keeps `%2F`, `%5C` and `%2E` encoded: a receiver or proxy that
 * decodes them before routing would take `/team-a/..%2Fteam-b` to `/team-b`, out from under the
 * prefix that covered it. A path with them is covered by no prefix.
 */
export const ENCODED_SEPARATOR = /%(2f|5c|2e)/i;

/** The normalized form of `url`, or undefined when it is not an absolute http(s) URL with a plain path. */
export function normalizeCallbackUrl(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
    return ENCODED_SEPARATOR.test(parsed.pathname) ? undefined : parsed.href;
  } catch {
    return undefined;
  }
}

/** Whether `prefix` (normalized) covers `url` (normalized). */
export function coversUrl(prefix: string, url: string): boolean {
  if (!url.startsWith(prefix)) return false;
  if (url.length === prefix.length || prefix.endsWith('/')) return true;
  return ['/', '?', '#'].includes(url.charAt(prefix.length));
}

/** The endpoint covering `url` with the longest prefix, or undefined. */
export function endpointFor<E extends { readonly url: string }>(endpoints: readonly E[], url: string): E | undefined {
  const normalized = normalizeCallbackUrl(url);
  if (normalized === undefined) return undefined;
  let best: E | undefined;
  for (const endpoint of endpoints) {
    if (coversUrl(endpoint.url, normalized) && (best === undefined || endpoint.url.length > best.url.length)) best = endpoint;
  }
  return best;
}
