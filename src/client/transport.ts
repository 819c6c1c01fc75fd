/**
 * One HTTP exchange with Berth over the platform's fetch: the key, JSON in and out, the API's
 * errors as BerthError, and the retry policy. Retried (with exponential backoff and full jitter,
 * or the server's Retry-After) are a network error, a 429, and a 502, 503 or 504 (Berth, or the
 * proxy before it, restarting), and only for requests that
 * are safe to repeat: reads, and submissions that carry an idempotency key. Any other POST is sent
 * once, since repeating it could queue the same work twice.
 */
import { BerthError } from './berth-error.ts';
import type { Operation } from './operations.ts';

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryPolicy {
  /** Tries after the first; default 4. 0 turns retries off. */
  readonly retries?: number;
  /** First backoff in ms, doubled each try and jittered; default 200. */
  readonly baseDelayMs?: number;
  /** Longest single backoff (and longest Retry-After honoured) in ms; default 10000. */
  readonly maxDelayMs?: number;
}

export interface TransportOptions extends RetryPolicy {
  readonly baseUrl: string;
  readonly apiKey?: string | undefined;
  readonly fetch?: FetchFunction | undefined;
  /** Sent on every request, e.g. a user-agent of your own. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

export interface Call {
  readonly params?: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal | undefined;
  /** Whether this call may be repeated (an idempotency key makes a submission so). */
  readonly idempotent: boolean;
}

export interface Transport {
  /** The answer's status and parsed JSON body; a 4xx or 5xx throws BerthError. */
  json<T>(operation: Operation, call: Call): Promise<{ status: number; body: T }>;
  /** The answer itself, for a streamed text body (logs); errors as for json(). */
  raw(operation: Operation, call: Call): Promise<Response>;
}

export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export function createTransport(options: TransportOptions): Transport {
  const base = options.baseUrl.replace(/\/+$/, '');
  // Bound to globalThis: browsers refuse a fetch called with another `this`.
  const send: FetchFunction = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const retries = options.retries ?? 4;
  const baseDelayMs = options.baseDelayMs ?? 200;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError(`retries must be a whole number >= 0 (got ${retries})`);
  for (const [name, ms] of [['baseDelayMs', baseDelayMs], ['maxDelayMs', maxDelayMs]] as const) {
    if (!Number.isFinite(ms) || ms < 0) throw new TypeError(`${name} must be a finite number >= 0 (got ${ms})`);
  }

  function urlOf(operation: Operation, call: Call): string {
    const path = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = call.params?.[name];
      if (value === undefined) throw new TypeError(`${operation.name}: missing path parameter '${name}'`);
      if (value === '') throw new TypeError(`${operation.name}: '${name}' must not be empty`);
      // The URL parser would fold these away and send the request to another route.
      if (value === '.' || value === '..') throw new TypeError(`${operation.name}: '${name}' must not be '${value}'`);
      return encodeURIComponent(value);
    });
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(call.query ?? {})) if (value !== undefined) search.set(key, String(value));
    const query = search.toString();
    return `${base}${path}${query === '' ? '' : `?${query}`}`;
  }

  function initOf(operation: Operation, call: Call): RequestInit {
    // Headers, not a plain object: names are case-insensitive, so a caller's own Authorization is replaced, not doubled.
    const headers = new Headers({ accept: 'application/json, text/plain', ...options.headers });
    if (options.apiKey !== undefined && options.apiKey !== '') headers.set('authorization', `Bearer ${options.apiKey}`);
    for (const [key, value] of Object.entries(call.headers ?? {})) if (value !== undefined) headers.set(key, value);
    const init: RequestInit = { method: operation.method, headers };
    if (call.body !== undefined) {
      headers.set('content-type', 'application/json');
      init.body = JSON.stringify(call.body);
    }
    if (call.signal !== undefined) init.signal = call.signal;
    return init;
  }

  async function exchange(operation: Operation, call: Call): Promise<Response> {
    const url = urlOf(operation, call);
    const init = initOf(operation, call);
    const tries = call.idempotent ? retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await send(url, init);
      } catch (error) {
        // The caller's own abort is not a failure to retry or to wrap.
        if (call.signal?.aborted === true) throw call.signal.reason;
        if (attempt >= tries) throw networkError(`${operation.method} ${url}`, error);
        await pause(backoff(attempt), call.signal);
        continue;
      }
      if (response.ok) return response;
      if (RETRYABLE_STATUS.has(response.status) && attempt < tries) {
        const after = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel();
        await pause(after === undefined ? backoff(attempt) : Math.min(after, maxDelayMs), call.signal);
        continue;
      }
      throw await errorOf(response, operation);
    }
  }

  function backoff(attempt: number): number {
    return Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  }

  return {
    async json<T>(operation: Operation, call: Call) {
      const response = await exchange(operation, call);
      const text = await response.text().catch((error: unknown) => {
        if (call.signal?.aborted === true) throw call.signal.reason;
        throw networkError(`${operation.method} ${response.url || operation.path}`, error);
      });
      return { status: response.status, body: parseJson<T>(text, response.status, operation) };
    },
    raw: exchange,
  };
}

function parseJson<T>(text: string, status: number, operation: Operation): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new BerthError({
      statusCode: status, code: 'INVALID_RESPONSE',
      message: `${operation.method} ${operation.path}: the answer (${status}) is not JSON: ${text.slice(0, 200)}`,
    }, { cause: error });
  }
}

/** A request that got no whole answer: no connection, or one cut off while the body came. */
export function networkError(request: string, error: unknown): BerthError {
  return new BerthError({ statusCode: 0, code: 'NETWORK_ERROR', message: `${request}: ${reasonOf(error)}` }, { cause: error });
}

/** Berth's error body as a BerthError; anything else (a proxy's page) as INVALID_RESPONSE with its status. */
async function errorOf(response: Response, operation: Operation): Promise<BerthError> {
  const text = await response.text().catch(() => '');
  let body: unknown;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (isErrorBody(body)) {
    return new BerthError({ statusCode: response.status, code: body.code, message: body.message, details: body.details });
  }
  return new BerthError({
    statusCode: response.status, code: 'INVALID_RESPONSE',
    message: `${operation.method} ${operation.path}: HTTP ${response.status} without Berth's error body: ${text.slice(0, 200)}`,
  });
}

function isErrorBody(body: unknown): body is { code: string; message: string; details?: { path: string; message: string }[] } {
  return typeof body === 'object' && body !== null
    && typeof (body as { code?: unknown }).code === 'string' && typeof (body as { message?: unknown }).message === 'string';
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function reasonOf(error: unknown): string {
  // undici puts the socket's error (ECONNREFUSED, …) in cause; its own message is only "fetch failed".
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause !== undefined && typeof cause.code === 'string') return `${cause.code}${typeof cause.message === 'string' ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** Sleeps ms, or rejects with the signal's reason when it aborts first. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) { reject(signal.reason); return; }
    const onAbort = (): void => { clearTimeout(timer); reject(signal!.reason); };
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
