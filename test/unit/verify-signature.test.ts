import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  parseWebhookSecret,
  signStandardWebhook,
  verifyBearerToken,
  verifyJiraSignature,
  verifyStandardWebhook,
} from '../../src/webhook-signatures.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
const jiraBody = fixture('jira-issue-created.json');
const JIRA_SECRET = 'It9ocm4oSXLmZPsgnD7k';
const jiraHeader = (body: Buffer, secret = JIRA_SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

test('Jira: accepts the HMAC of the raw body, in either hex case', () => {
  const header = jiraHeader(jiraBody);
  assert.equal(verifyJiraSignature(jiraBody, header, JIRA_SECRET), true);
  assert.equal(verifyJiraSignature(jiraBody, `sha256=${header.slice(7).toUpperCase()}`, JIRA_SECRET), true);
});

test('Jira: a tampered body or a wrong secret is refused', () => {
  const header = jiraHeader(jiraBody);
  const tampered = Buffer.from(jiraBody.toString('utf8').replace('OPS-42', 'OPS-43'));
  assert.equal(verifyJiraSignature(tampered, header, JIRA_SECRET), false);
  // Re-serialised JSON is not the raw body: whitespace changes the signature.
  const reserialised = Buffer.from(JSON.stringify(JSON.parse(jiraBody.toString('utf8'))));
  assert.equal(verifyJiraSignature(reserialised, header, JIRA_SECRET), false);
  assert.equal(verifyJiraSignature(jiraBody, header, 'another-secret'), false);
  assert.equal(verifyJiraSignature(jiraBody, header, ''), false);
});

test('Jira: missing, malformed and wrong-length headers are refused without throwing', () => {
  const hex = jiraHeader(jiraBody).slice('sha256='.length);
  for (const header of [
    undefined, '', 'sha256=', hex, `sha1=${hex}`, `sha256=${hex.slice(0, -2)}`, `sha256=${hex}00`,
    `sha256=${hex.slice(0, -1)}g`, `sha256=${'0'.repeat(64)}`, `sha256=${hex} trailing`,
  ]) {
    assert.equal(verifyJiraSignature(jiraBody, header, JIRA_SECRET), false, String(header));
  }
});

test('bearer token: equal tokens match; different, empty or differently sized ones do not', () => {
  assert.equal(verifyBearerToken('s3cr3t-token', 's3cr3t-token'), true);
  assert.equal(verifyBearerToken('s3cr3t-tokeN', 's3cr3t-token'), false);
  assert.equal(verifyBearerToken('s3cr3t', 's3cr3t-token'), false);
  assert.equal(verifyBearerToken('s3cr3t-token-and-more', 's3cr3t-token'), false);
  assert.equal(verifyBearerToken(undefined, 's3cr3t-token'), false);
  assert.equal(verifyBearerToken('', 's3cr3t-token'), false);
  assert.equal(verifyBearerToken('', ''), false, 'an unset expected token never authenticates');
});

// The Standard Webhooks reference libraries' published test vector.
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const specKey = parseWebhookSecret(SPEC.secret);

test('Standard Webhooks: reproduces the spec test vector, from a string or a Buffer', () => {
  assert.equal(signStandardWebhook(specKey, SPEC.id, SPEC.timestamp, SPEC.body), SPEC.signature);
  assert.equal(signStandardWebhook(specKey, SPEC.id, SPEC.timestamp, Buffer.from(SPEC.body)), SPEC.signature);
  const headers = { id: SPEC.id, timestamp: String(SPEC.timestamp), signature: SPEC.signature };
  assert.deepEqual(verifyStandardWebhook(specKey, headers, Buffer.from(SPEC.body), SPEC.timestamp), { ok: true });
});

test('parseWebhookSecret: whsec_ prefix optional; invalid secrets throw a clear error', () => {
  assert.deepEqual(parseWebhookSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'), specKey);
  assert.equal(specKey.length, 24);
  assert.throws(() => parseWebhookSecret('whsec_not base64!'), /base64/);
  assert.throws(() => parseWebhookSecret('whsec_'), /base64/);
  assert.throws(() => parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS'), /length or padding/);
  assert.throws(() => parseWebhookSecret('whsec_c2hvcnQta2V5'), /at least 24/);
  assert.throws(() => parseWebhookSecret('whsec_-_-_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa'), (error: Error) => !error.message.includes('MfKQ'));
});

const body = fixture('standard-webhook.json');
const now = 1718039112;
const key = parseWebhookSecret('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD');
const signed = (overrides: { signature?: string; timestamp?: string } = {}) => ({
  id: 'msg_2hVdB3Jm8xCq1sYt7fK0Pz',
  timestamp: String(now),
  signature: signStandardWebhook(key, 'msg_2hVdB3Jm8xCq1sYt7fK0Pz', now, body),
  ...overrides,
});

test('Standard Webhooks: a tampered body, id or wrong key is an invalid signature', () => {
  assert.deepEqual(verifyStandardWebhook(key, signed(), body, now), { ok: true });
  const tampered = Buffer.from(body.toString('utf8').replace('success', 'failure'));
  assert.deepEqual(verifyStandardWebhook(key, signed(), tampered, now), { ok: false, reason: 'invalid_signature' });
  assert.deepEqual(verifyStandardWebhook(key, { ...signed(), id: 'msg_other' }, body, now), { ok: false, reason: 'invalid_signature' });
  assert.deepEqual(verifyStandardWebhook(specKey, signed(), body, now), { ok: false, reason: 'invalid_signature' });
});

test('Standard Webhooks: key rotation — any matching v1 signature among several is enough', () => {
  const oldKeySignature = signStandardWebhook(specKey, 'msg_2hVdB3Jm8xCq1sYt7fK0Pz', now, body);
  const both = `${oldKeySignature} ${signed().signature}`;
  assert.deepEqual(verifyStandardWebhook(key, signed({ signature: both }), body, now), { ok: true });
  assert.deepEqual(verifyStandardWebhook(specKey, signed({ signature: both }), body, now), { ok: true });
  const withOthers = `v1a,${signed().signature.slice(3)} v2,abc v1,bm9wZQ== garbage ${signed().signature}`;
  assert.deepEqual(verifyStandardWebhook(key, signed({ signature: withOthers }), body, now), { ok: true });
});

test('Standard Webhooks: only v1 entries count', () => {
  const v1a = `v1a,${signed().signature.slice(3)}`;
  assert.deepEqual(verifyStandardWebhook(key, signed({ signature: v1a }), body, now), { ok: false, reason: 'invalid_signature' });
  assert.deepEqual(verifyStandardWebhook(key, signed({ signature: 'v1,' }), body, now), { ok: false, reason: 'invalid_signature' });
});

test('Standard Webhooks: timestamps beyond the tolerance, past or future, are refused', () => {
  const at = (offset: number, tolerance?: number) => {
    const timestamp = now + offset;
    const headers = signed({ timestamp: String(timestamp), signature: signStandardWebhook(key, 'msg_2hVdB3Jm8xCq1sYt7fK0Pz', timestamp, body) });
    return verifyStandardWebhook(key, headers, body, now, tolerance);
  };
  assert.deepEqual(at(-300), { ok: true });
  assert.deepEqual(at(300), { ok: true });
  assert.deepEqual(at(-301), { ok: false, reason: 'timestamp_out_of_tolerance' });
  assert.deepEqual(at(301), { ok: false, reason: 'timestamp_out_of_tolerance' });
  assert.deepEqual(at(-3600), { ok: false, reason: 'timestamp_out_of_tolerance' });
  assert.deepEqual(at(-30, 10), { ok: false, reason: 'timestamp_out_of_tolerance' });
});

test('Standard Webhooks: missing or unusable headers', () => {
  const { id, timestamp, signature } = signed();
  for (const headers of [{}, { timestamp, signature }, { id, signature }, { id, timestamp }, { id: '', timestamp, signature }]) {
    assert.deepEqual(verifyStandardWebhook(key, headers, body, now), { ok: false, reason: 'missing_headers' }, JSON.stringify(headers));
  }
  for (const bad of ['', 'yesterday', '1718039112.5', '-1718039112', '2024-06-10T17:05:12Z']) {
    assert.deepEqual(verifyStandardWebhook(key, signed({ timestamp: bad }), body, now), { ok: false, reason: 'missing_headers' }, bad);
  }
});
