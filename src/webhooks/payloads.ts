/**
 * Turning an inbound webhook's raw bytes into a JSON value, and that value into a task's input.
 *
 * Pure: no I/O. Parsers return a result instead of throwing, because a sender's malformed body
 * is an expected 4xx answer, not a fault. Objects are built with `Object.fromEntries`/spread, so a
 * key named `__proto__` in a body or mapping becomes an ordinary own property instead of
 * changing the object's prototype.
 */

export type ParseResult<T> = { ok: true; value: T } | { ok: false; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Parses a JSON body. Decoded as strict UTF-8 (RFC 8259 §8.1): invalid bytes are an error rather
 * than silently becoming U+FFFD. A leading byte-order mark is tolerated (the RFC lets parsers
 * ignore it, and some Windows tooling writes one). An empty body is an error here; callers that
 * treat "no body" as "no fields" check for that first.
 */
export function parseJsonBody(rawBody: Buffer): ParseResult<unknown> {
  let text: string;
  try {
    text = utf8.decode(rawBody); // ignoreBOM:false strips a leading BOM
  } catch {
    return { ok: false, message: 'body is not valid UTF-8' };
  }
  if (text.trim() === '') return { ok: false, message: 'body is empty; expected a JSON document' };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    // JSON.parse's message names the position, e.g. "Bad control character in string literal
    // in JSON at position 57", which is what a dialplan author needs to find the raw byte.
    return { ok: false, message: `body is not valid JSON: ${(error as Error).message}` };
  }
}

type Query = Record<string, string | string[] | undefined>;
type MediaKind = 'form' | 'json' | 'unsupported';

/**
 * No Content-Type means form: Asterisk's `CURL()` sends `application/x-www-form-urlencoded`, but
 * libcurl drops that default header as soon as the dialplan adds any header of its own.
 */
function mediaKind(contentType: string | undefined): MediaKind {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === '' || type === 'application/x-www-form-urlencoded') return 'form';
  if (type === 'application/json' || /^application\/[\w.+-]+\+json$/.test(type)) return 'json';
  return 'unsupported';
}

/** Form fields; a key repeated in the body becomes an array of its values, in order. */
function parseForm(text: string): Record<string, unknown> {
  const fields = new Map<string, string | string[]>();
  for (const [key, value] of new URLSearchParams(text)) {
    const previous = fields.get(key);
    if (previous === undefined) fields.set(key, value);
    else if (Array.isArray(previous)) previous.push(value);
    else fields.set(key, [previous, value]);
  }
  return Object.fromEntries(fields);
}

/** Query parameters, except `token`: that one authenticates the call and must not reach a task. */
function queryFields(query: Query): Record<string, unknown> {
  const entries = Object.entries(query).filter(([key, value]) => key !== 'token' && value !== undefined);
  return Object.fromEntries(entries.map(([key, value]) => [key, Array.isArray(value) ? [...value] : value]));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function bodyFields(rawBody: Buffer, kind: 'form' | 'json'): ParseResult<Record<string, unknown>> {
  if (rawBody.toString('utf8').trim() === '') return { ok: true, value: {} };
  if (kind === 'form') return { ok: true, value: parseForm(rawBody.toString('utf8')) };
  const parsed = parseJsonBody(rawBody);
  if (!parsed.ok) return parsed;
  // A JSON array or scalar is kept whole under `body` rather than refused: ARI scripts do post
  // bare values, and wrapping keeps the query-merge and the `/body/...` input mapping usable.
  return { ok: true, value: isObject(parsed.value) ? parsed.value : { body: parsed.value } };
}

/**
 * An Asterisk request's fields: the body (form-encoded from dialplan `CURL()`, JSON from ARI
 * applications) merged over the query string's parameters (the body wins a conflict, since the
 * query is the part most easily copied between dialplan lines). An empty body counts as no
 * fields. Any other content type is refused by name.
 */
export function parseAsteriskBody(rawBody: Buffer, contentType: string | undefined, query: Query): ParseResult<Record<string, unknown>> {
  const kind = mediaKind(contentType);
  if (kind === 'unsupported') {
    return {
      ok: false,
      message: `unsupported content type "${contentType}": send application/x-www-form-urlencoded (dialplan CURL) or application/json (ARI)`,
    };
  }
  const body = bodyFields(rawBody, kind);
  if (!body.ok) return body;
  return { ok: true, value: { ...queryFields(query), ...body.value } };
}

/** Jira's event name (`jira:issue_created`, `comment_created`, ...), if the payload has one. */
export function jiraEvent(payload: unknown): string | undefined {
  if (!isObject(payload)) return undefined;
  const event = payload['webhookEvent'];
  return typeof event === 'string' ? event : undefined;
}
