/**
 * What tasks and workflow runs share in the SDK: waiting on the API's held `?wait=` until final
 * (renewed until the caller's timeout), walking every page of a listing, and the idempotency key
 * that makes run() safe to retry.
 */
import { BerthError } from './berth-error.ts';
import { networkError, pause, RETRYABLE_STATUS } from './transport.ts';

/** Longest one held request waits. Under the API's bound (120 s), and under the idle timeout of most proxies. */
export const HELD_SECONDS = 60;

export interface WaitOptions {
  /** Seconds to wait in all; none: until final. On expiry: BerthError WAIT_TIMEOUT, with the last state in `last`. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** How a wait rides out trouble; tests give shorter ones. */
export interface WaitTiming {
  /** Pause after a held read that came back early and not final (a server shutting down), so the loop cannot spin. */
  readonly earlyAnswerPauseMs: number;
  /** Without a timeout: how long an outage may last before the wait gives up with its error. */
  readonly outageLimitMs: number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const DEFAULT_TIMING: WaitTiming = { earlyAnswerPauseMs: 1_000, outageLimitMs: 5 * 60_000, sleep: pause };

/** An error a wait outlasts: Berth (or its proxy) unreachable or restarting. */
function isTransient(error: unknown): error is BerthError {
  return error instanceof BerthError && (error.code === 'NETWORK_ERROR' || RETRYABLE_STATUS.has(error.statusCode));
}

/**
 * Calls `read(seconds)` (a GET with ?wait=seconds) until `done` holds for its answer, or the
 * timeout passes. `first` is a state already in hand (a submission's answer), saving a request.
 * A restart of Berth does not end the wait: its network errors and 502/503/504s (past the
 * transport's own few retries) are outlasted until the timeout, or for `outageLimitMs` without one.
 */
export async function waitUntil<T>(
  what: string,
  read: (waitSeconds: number) => Promise<T>,
  done: (state: T) => boolean,
  options: WaitOptions,
  first?: T,
  timing: WaitTiming = DEFAULT_TIMING,
): Promise<T> {
  const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 1000;
  let state = first;
  let failingSince: number | undefined;
  let backoffMs = timing.earlyAnswerPauseMs;
  while (state === undefined || !done(state)) {
    const remaining = (deadline - Date.now()) / 1000;
    if (remaining <= 0) {
      throw new BerthError({
        statusCode: 0, code: 'WAIT_TIMEOUT', message: `${what} was not final when the wait timed out`, last: state,
      });
    }
    // Tenths of a second, so the last held request ends at the deadline, not a second after it.
    const asked = Math.min(HELD_SECONDS, Math.ceil(remaining * 10) / 10);
    const started = Date.now();
    try {
      state = await read(asked);
      failingSince = undefined;
      backoffMs = timing.earlyAnswerPauseMs;
      if (done(state) || Date.now() - started >= (asked * 1000) / 2) continue;
    } catch (error) {
      if (!isTransient(error)) throw error;
      failingSince ??= started;
      if (deadline === Infinity && Date.now() - failingSince >= timing.outageLimitMs) throw error;
    }
    await timing.sleep(Math.min(backoffMs, Math.max(0, deadline - Date.now())), options.signal);
    backoffMs = Math.min(backoffMs * 2, 10_000);
  }
  return state;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

/** Every item of every page, fetching the next page only when the caller has used up this one. */
export async function* everyItem<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  do {
    const page = await fetchPage(cursor);
    yield* page.items;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

/** A fresh random key (UUID v4 form) from Web Crypto, which browsers give outside secure contexts too. */
export function freshIdempotencyKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A text body as it arrives, decoded chunk by chunk (a character split across chunks is kept whole). */
export async function* textChunks(response: Response, request: string, signal?: AbortSignal): AsyncGenerator<string, void, undefined> {
  if (response.body === null) return;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read().catch((error: unknown) => {
        if (signal?.aborted === true) throw signal.reason;
        throw networkError(request, error);
      });
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      if (text !== '') yield text;
    }
    const rest = decoder.decode();
    if (rest !== '') yield rest;
  } finally {
    // A caller that stops early (break) closes the stream, and with it a follow's held connection.
    // Its rejection would only repeat the error the read already threw.
    await reader.cancel().catch(() => undefined);
  }
}
