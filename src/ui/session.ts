/**
 * The page's key and its client. The key is kept in sessionStorage (this tab only, gone when it
 * closes) and sent as Bearer on every call, through the SDK; a Berth without keys (loopback)
 * works with none. errorText says what went wrong in the API's own words, and for 401 and 403
 * which key was used.
 */
import { BerthError, createClient, type BerthClient } from '../client/index.ts';

const STORAGE_KEY = 'berth.apiKey';

export function storedKey(): string {
  return sessionStorage.getItem(STORAGE_KEY) ?? '';
}

export function storeKey(key: string): void {
  if (key === '') sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, key);
}

/** The key as the page shows it: its last four characters only. */
export function keyLabel(key: string): string {
  return key === '' ? 'no key' : `key …${key.slice(-4)}`;
}

/** A client of the Berth that served this page (its path without /ui, so a reverse proxy's prefix holds). */
export function clientFor(key: string): BerthClient {
  const base = `${location.origin}${location.pathname.replace(/\/ui\/?$/, '')}`;
  return createClient({ baseUrl: base, apiKey: key === '' ? undefined : key, retries: 2 });
}

export function errorText(error: unknown, key: string): string {
  if (!(error instanceof BerthError)) return error instanceof Error ? error.message : String(error);
  const head = error.statusCode === 0 ? error.code : `${error.statusCode} ${error.code}`;
  const details = (error.details ?? []).map((detail) => `\n  ${detail.path}: ${detail.message}`).join('');
  if (error.statusCode === 401) {
    return `${head}: ${error.message}${details}\nThe page sent ${keyLabel(key)}: enter a key of this Berth above.`;
  }
  if (error.statusCode === 403) return `${head}: ${error.message}${details}\nThe page sent ${keyLabel(key)}.`;
  return `${head}: ${error.message}${details}`;
}
