/**
 * Authentication of inbound webhooks, over the *raw* request bytes: Jira's `X-Hub-Signature`
 * HMAC, a shared bearer token (Asterisk's dialplan has no HMAC function), and Standard Webhooks
 * (https://www.standardwebhooks.com) signatures, which Berth also produces for its callbacks.
 *
 * Pure: no I/O, no clock (callers pass `nowSeconds`). Every comparison of a secret-derived value
 * is constant-time over equal-length buffers, so neither a mismatch position nor the secret's
 * length shows in the timing. What this module does not do: de-duplicate deliveries (replay
 * within the tolerance window is the caller's job, keyed on the delivery id).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const JIRA_SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/**
 * Jira (Cloud and Data Center) sends `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
 * The header's shape is checked first, so the compared buffers always have the digest's length:
 * a short or long header is refused by its format, which says nothing about the secret.
 */
export function verifyJiraSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (secret === '' || header === undefined) return false;
  const match = JIRA_SIGNATURE.exec(header.trim());
  if (match?.[1] === undefined) return false;
  const presented = Buffer.from(match[1], 'hex');
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(presented, expected);
}

/**
 * Compares a presented token (already taken out of its `Authorization: Bearer` header or query
 * parameter by the caller) with the configured one. Both are hashed first so the comparison runs
 * over two 32-byte digests whatever their lengths. An empty expected token never matches: a
 * missing secret in config must not open the endpoint to everyone.
 */
export function verifyBearerToken(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || presented === '' || expected === '') return false;
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** The Standard Webhooks spec asks for keys of 24 to 64 random bytes; shorter ones are refused. */
const MIN_KEY_BYTES = 24;

/**
 * Decodes a Standard Webhooks secret into the HMAC key. Accepts `whsec_<base64>` and also the
 * bare base64 key, as the reference libraries do (some senders display the key without the
 * prefix). The base64 must be canonical standard-alphabet text (padding optional), so a typo'd
 * or truncated secret fails at startup instead of producing signatures nobody can verify.
 * Throws an Error whose message never contains the secret itself.
 */
export function parseWebhookSecret(secret: string): Buffer {
  const encoded = (secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret).trim();
  if (!BASE64.test(encoded)) {
    throw new Error('webhook secret must be "whsec_" followed by a base64 key (characters A-Z a-z 0-9 + / =)');
  }
  const key = Buffer.from(encoded, 'base64');
  if (key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    throw new Error('webhook secret is not valid base64: its length or padding is wrong (was it truncated?)');
  }
  if (key.length < MIN_KEY_BYTES) {
    throw new Error(`webhook secret key is ${key.length} bytes; at least ${MIN_KEY_BYTES} random bytes are required`);
  }
  return key;
}

function standardWebhookDigest(key: Buffer, id: string, timestampSeconds: number, body: Buffer | string): Buffer {
  return createHmac('sha256', key)
    .update(`${id}.${timestampSeconds}.`, 'utf8')
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest();
}

/** The `webhook-signature` value for one key: `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`. */
export function signStandardWebhook(secret: Buffer, id: string, timestampSeconds: number, body: Buffer | string): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) {
    throw new Error(`webhook timestamp must be a non-negative integer of seconds, got ${timestampSeconds}`);
  }
  return `v1,${standardWebhookDigest(secret, id, timestampSeconds, body).toString('base64')}`;
}

export type StandardWebhookHeaders = { id?: string; timestamp?: string; signature?: string };
export type StandardWebhookVerdict =
  | { ok: true }
  | { ok: false; reason: 'missing_headers' | 'timestamp_out_of_tolerance' | 'invalid_signature' };

const TIMESTAMP = /^\d{1,15}$/;

/**
 * Verifies a Standard Webhooks delivery. The signature header may carry several space-separated
 * `<version>,<base64>` entries (one per key while a sender rotates keys); one matching `v1` entry
 * is enough, other versions (e.g. `v1a` asymmetric) are ignored. The timestamp must lie within
 * `toleranceSeconds` of `nowSeconds` in *both* directions: an old one is a replay, one far in
 * the future would stay replayable for that long. A timestamp that is not plain integer seconds
 * is reported as `missing_headers` (the header is present but unusable, like a missing one).
 */
export function verifyStandardWebhook(
  secret: Buffer,
  headers: StandardWebhookHeaders,
  rawBody: Buffer,
  nowSeconds: number,
  toleranceSeconds = 300,
): StandardWebhookVerdict {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !TIMESTAMP.test(timestamp.trim())) return { ok: false, reason: 'missing_headers' };
  const sentAt = Number(timestamp.trim());
  if (Math.abs(nowSeconds - sentAt) > toleranceSeconds) return { ok: false, reason: 'timestamp_out_of_tolerance' };

  const expected = standardWebhookDigest(secret, id, sentAt, rawBody);
  let matched = false;
  for (const entry of signature.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const presented = Buffer.from(entry.slice(comma + 1), 'base64');
    // Every entry is compared (no early exit), so timing does not reveal which key matched.
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) matched = true;
  }
  return matched ? { ok: true } : { ok: false, reason: 'invalid_signature' };
}
