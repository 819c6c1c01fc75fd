/**
 * Inbound webhooks (POST /webhooks/{name}), in-process on a fresh database with the fixture's
 * jira, asterisk and generic (Standard Webhooks) sections, and jira-triage, which starts a workflow
 * run. Every refusal is checked to have queued nothing; every accepted delivery is checked through
 * the task or run it created. No worker runs, so a created task staying `queued` shows the answer
 * did not wait for the task to run.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseWebhookSecret, signStandardWebhook } from '../../src/webhook-signatures.ts';
import { spawnBerth } from '../helpers/berth-process.ts';
import { countQueued, FIXTURE_RUNNERS, startApiStack, type ApiStack } from '../helpers/stack.ts';

// The secrets test/fixtures/berth.yaml configures (BERTH_TEST_JIRA_SECRET is not set here).
const JIRA_SECRET = 'jira-test-secret';
const ASTERISK_TOKEN = 'asterisk-test-token';
const GENERIC_KEY = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
const JIRA_CREATED = fixture('jira-issue-created.json');
const JIRA_UPDATED = fixture('jira-issue-updated.json');
const ASTERISK_FORM = fixture('asterisk-dialplan-curl.txt');
const STANDARD = fixture('standard-webhook.json');

let stack: ApiStack;
before(async () => { stack = await startApiStack(); });
after(async () => { await stack?.close(); });

const jiraSignature = (body: Buffer | string, secret = JIRA_SECRET): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function deliver(name: string, body: Buffer | string, headers: Record<string, string> = {}, query = '') {
  return stack.app.inject({ method: 'POST', url: `/webhooks/${name}${query}`, headers, payload: body });
}

/** A signed Jira delivery, with a fresh identifier unless `headers` gives one; to `webhook` (default jira). */
function jira(body: Buffer | string, headers: Record<string, string> = {}, webhook = 'jira') {
  return deliver(webhook, body, {
    'content-type': 'application/json', 'x-hub-signature': jiraSignature(body), 'x-atlassian-webhook-identifier': randomUUID(), ...headers,
  });
}

function generic(body: Buffer | string, options: { id?: string; at?: number; signature?: string } = {}) {
  const id = options.id ?? `msg_${randomUUID()}`;
  const at = options.at ?? Math.floor(Date.now() / 1000);
  return deliver('generic', body, {
    'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(at),
    'webhook-signature': options.signature ?? signStandardWebhook(GENERIC_KEY, id, at, body),
  });
}

/** A delivery that must be refused with `status`/`code` and queue nothing. */
async function refused(send: () => Promise<{ statusCode: number; body: string; json(): any }>, status: number, code: string) {
  const before = await countQueued(stack.pool);
  const response = await send();
  assert.equal(response.statusCode, status, response.body);
  assert.equal(response.json().code, code, response.body);
  assert.deepEqual(await countQueued(stack.pool), before, 'a refused delivery must queue nothing');
  return response.json();
}

/** A delivery that must create exactly one task (and one job); returns that task. */
async function created(send: () => Promise<{ statusCode: number; body: string; json(): any }>): Promise<Record<string, any>> {
  const before = await countQueued(stack.pool);
  const response = await send();
  assert.equal(response.statusCode, 202, response.body);
  const receipt = response.json();
  assert.equal(receipt.duplicate, false);
  assert.equal(receipt.ignored, null);
  assert.equal(receipt.workflowId, null, 'a webhook naming a runner starts no workflow run');
  assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 1, jobs: before.jobs + 1 });
  const task = await stack.app.inject({ method: 'GET', url: `/tasks/${receipt.taskId}` });
  assert.equal(task.statusCode, 200, task.body);
  assert.equal(task.json().runner, 'echo');
  assert.equal(task.json().status, 'queued', 'the delivery is answered once queued, not after the task ran');
  return task.json();
}

test('an unknown webhook name → 404 WEBHOOK_NOT_FOUND', async () => {
  await refused(() => deliver('nope', '{}', { 'content-type': 'application/json' }), 404, 'WEBHOOK_NOT_FOUND');
});

describe('jira: X-Hub-Signature over the raw bytes', () => {
  test('the captured delivery starts a task whose input is the mapping of event, key and summary', async () => {
    const task = await created(() => jira(JIRA_CREATED));
    assert.deepEqual(task['input'], { event: 'jira:issue_created', key: 'OPS-42', summary: 'Nightly backup of db-7 failed: "disk full"' });
  });

  test('the other allowed event (jira:issue_updated) starts a task too', async () => {
    const task = await created(() => jira(JIRA_UPDATED));
    assert.equal(task['input'].event, 'jira:issue_updated');
  });

  test('exactly the signed bytes, with odd whitespace and key order, are accepted; a missing field maps to null', async () => {
    const body = '{ "issue" :{"fields":{ "summary":"tab\\there ü"} ,\n\t"key":"K-1"},  "webhookEvent" : "jira:issue_updated"\r\n}';
    const task = await created(() => jira(body));
    assert.deepEqual(task['input'], { event: 'jira:issue_updated', key: 'K-1', summary: 'tab\there ü' });
    const noSummary = await created(() => jira('{"webhookEvent":"jira:issue_created","issue":{"key":"K-2"}}'));
    assert.deepEqual(noSummary['input'], { event: 'jira:issue_created', key: 'K-2', summary: null });
  });

  test('a missing, malformed or wrong signature → 401 UNAUTHORIZED, nothing queued', async () => {
    await refused(() => jira(JIRA_CREATED, { 'x-hub-signature': '' }), 401, 'UNAUTHORIZED');
    await refused(() => deliver('jira', JIRA_CREATED, { 'content-type': 'application/json' }), 401, 'UNAUTHORIZED');
    await refused(() => jira(JIRA_CREATED, { 'x-hub-signature': jiraSignature(JIRA_CREATED, 'another-secret') }), 401, 'UNAUTHORIZED');
    await refused(() => jira(JIRA_CREATED, { 'x-hub-signature': jiraSignature(JIRA_CREATED).slice(0, -2) }), 401, 'UNAUTHORIZED');
    const sha1 = `sha1=${createHmac('sha1', JIRA_SECRET).update(JIRA_CREATED).digest('hex')}`;
    await refused(() => jira(JIRA_CREATED, { 'x-hub-signature': sha1 }), 401, 'UNAUTHORIZED');
  });

  test('a body re-serialised after signing is refused, whichever side was signed', async () => {
    const reserialised = JSON.stringify(JSON.parse(JIRA_CREATED.toString('utf8')));
    assert.notEqual(reserialised, JIRA_CREATED.toString('utf8'));
    await refused(() => jira(reserialised, { 'x-hub-signature': jiraSignature(JIRA_CREATED) }), 401, 'UNAUTHORIZED');
    await refused(() => jira(JIRA_CREATED, { 'x-hub-signature': jiraSignature(reserialised) }), 401, 'UNAUTHORIZED');
  });

  test('a redelivery with the same X-Atlassian-Webhook-Identifier → 200 with the first task, nothing more queued', async () => {
    const identifier = randomUUID();
    const first = await created(() => jira(JIRA_CREATED, { 'x-atlassian-webhook-identifier': identifier }));
    const before = await countQueued(stack.pool);
    for (const body of [JIRA_CREATED, JIRA_UPDATED]) {
      const again = await jira(body, { 'x-atlassian-webhook-identifier': identifier });
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(again.json(), { taskId: first['id'], workflowId: null, duplicate: true, ignored: null });
    }
    assert.deepEqual(await countQueued(stack.pool), before);
    // The credential is checked before the redelivery is looked up: no task id for a bad signature.
    await refused(() => jira(JIRA_CREATED, { 'x-atlassian-webhook-identifier': identifier, 'x-hub-signature': jiraSignature('x') }), 401, 'UNAUTHORIZED');
  });

  test('concurrent deliveries with one identifier create one task', async () => {
    const identifier = randomUUID();
    const before = await countQueued(stack.pool);
    const answers = await Promise.all(Array.from({ length: 6 }, () => jira(JIRA_CREATED, { 'x-atlassian-webhook-identifier': identifier })));
    assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 200, 200, 200, 200, 202], answers.map((a) => a.body).join('\n'));
    assert.equal(new Set(answers.map((a) => a.json().taskId)).size, 1, 'every answer names the one task');
    assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 1, jobs: before.jobs + 1 });
  });

  test('an event outside the filter → 202 with taskId null and the reason, nothing queued', async () => {
    const deleted = JIRA_CREATED.toString('utf8').replace('"jira:issue_created"', '"jira:issue_deleted"');
    const before = await countQueued(stack.pool);
    const response = await jira(deleted);
    assert.equal(response.statusCode, 202, response.body);
    const receipt = response.json();
    assert.equal(receipt.taskId, null);
    assert.equal(receipt.duplicate, false);
    assert.match(receipt.ignored, /jira:issue_deleted/);
    const noEvent = await jira('{"issue":{"key":"K-3"}}');
    assert.equal(noEvent.statusCode, 202, noEvent.body);
    assert.equal(noEvent.json().taskId, null);
    assert.equal(typeof noEvent.json().ignored, 'string');
    assert.deepEqual(await countQueued(stack.pool), before);
    // Filtering comes after authentication: an unsigned filtered event is still a 401.
    await refused(() => jira(deleted, { 'x-hub-signature': jiraSignature(JIRA_CREATED) }), 401, 'UNAUTHORIZED');
  });

  test('a correctly signed body that is not JSON → 400 MALFORMED_PAYLOAD', async () => {
    await refused(() => jira('{"webhookEvent": "jira:issue_created",'), 400, 'MALFORMED_PAYLOAD');
    await refused(() => jira(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 400, 'MALFORMED_PAYLOAD');
  });
});

describe('asterisk: a token, form or JSON bodies', () => {
  const bearer = { authorization: `Bearer ${ASTERISK_TOKEN}` };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const DIALPLAN_INPUT = {
    event: 'hangup', uniqueid: '1718035200.1234', linkedid: '1718035200.1234', channel: 'PJSIP/provider-trunk-0000002a',
    callerid_num: '+15555550123', callerid_name: 'Mary O\'Brien "Front Desk"', exten: '5001', context: 'from-trunk',
    dialstatus: 'ANSWER', billsec: '42', queue: ['support', 'escalations'],
  };

  test('the dialplan CURL() form body with a Bearer token becomes the input (repeated keys as arrays)', async () => {
    const task = await created(() => deliver('asterisk', ASTERISK_FORM, { ...form, ...bearer }));
    assert.deepEqual(task['input'], DIALPLAN_INPUT);
  });

  test('?token= authenticates too; other query parameters are merged, the body winning, the token dropped', async () => {
    const task = await created(() => deliver('asterisk', ASTERISK_FORM, form, `?token=${ASTERISK_TOKEN}&source=dialplan&exten=9999`));
    assert.deepEqual(task['input'], { ...DIALPLAN_INPUT, source: 'dialplan' });
    const queryOnly = await created(() => deliver('asterisk', '', bearer, '?event=ring&exten=100'));
    assert.deepEqual(queryOnly['input'], { event: 'ring', exten: '100' });
  });

  test('a JSON body (ARI) becomes the input; a bare JSON array is kept under `body`', async () => {
    const json = { 'content-type': 'application/json; charset=utf-8', ...bearer };
    const task = await created(() => deliver('asterisk', '{"type":"StasisEnd","channel":{"id":"1718035200.99","name":"PJSIP/x"}}', json, '?app=ivr'));
    assert.deepEqual(task['input'], { app: 'ivr', type: 'StasisEnd', channel: { id: '1718035200.99', name: 'PJSIP/x' } });
    const array = await created(() => deliver('asterisk', '[1,"two"]', json));
    assert.deepEqual(array['input'], { body: [1, 'two'] });
  });

  test('a missing or wrong token → 401 UNAUTHORIZED, checked before the body is read', async () => {
    await refused(() => deliver('asterisk', ASTERISK_FORM, form), 401, 'UNAUTHORIZED');
    await refused(() => deliver('asterisk', ASTERISK_FORM, { ...form, authorization: 'Bearer asterisk-test-tokeN' }), 401, 'UNAUTHORIZED');
    await refused(() => deliver('asterisk', ASTERISK_FORM, { ...form, authorization: ASTERISK_TOKEN }), 401, 'UNAUTHORIZED');
    await refused(() => deliver('asterisk', ASTERISK_FORM, form, '?token='), 401, 'UNAUTHORIZED');
    await refused(() => deliver('asterisk', '{"bad\n', { 'content-type': 'application/json' }, '?token=wrong'), 401, 'UNAUTHORIZED');
  });

  test('JSON with raw control characters (as QUOTE() leaves them) → 400 MALFORMED_PAYLOAD, never 500', async () => {
    const json = { 'content-type': 'application/json', ...bearer };
    await refused(() => deliver('asterisk', '{"callerid_name":"Mary\nO\'Brien","note":"a\tb"}', json), 400, 'MALFORMED_PAYLOAD');
    await refused(() => deliver('asterisk', '{"event":"hangup","billsec":', json), 400, 'MALFORMED_PAYLOAD');
    await refused(() => deliver('asterisk', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]), json), 400, 'MALFORMED_PAYLOAD');
    const textPlain = await refused(() => deliver('asterisk', 'event=hangup', { 'content-type': 'text/plain', ...bearer }), 400, 'MALFORMED_PAYLOAD');
    assert.match(textPlain.message, /text\/plain/);
  });

  test('a body over the body limit → 413 BODY_TOO_LARGE, nothing queued', async () => {
    const huge = `event=hangup&pad=${'x'.repeat(1024 * 1024)}`;
    await refused(() => deliver('asterisk', huge, { ...form, ...bearer }), 413, 'BODY_TOO_LARGE');
  });

  test('a body sent with no Content-Type header at all is read as form data (real HTTP, no client defaults)', async () => {
    await stack.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = stack.app.server.address() as AddressInfo;
    const before = await countQueued(stack.pool);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request({
        host: '127.0.0.1', port, method: 'POST', path: '/webhooks/asterisk?source=raw', agent: false,
        headers: { authorization: `Bearer ${ASTERISK_TOKEN}`, 'content-length': String(ASTERISK_FORM.length) },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', reject);
      });
      request.on('error', reject);
      assert.equal(request.getHeader('content-type'), undefined, 'the request must go out without a Content-Type');
      request.end(ASTERISK_FORM);
    });
    assert.equal(answer.status, 202, answer.body);
    assert.deepEqual(await countQueued(stack.pool), { tasks: before.tasks + 1, jobs: before.jobs + 1 });
    const task = await (await fetch(`http://127.0.0.1:${port}/tasks/${JSON.parse(answer.body).taskId}`)).json() as Record<string, any>;
    assert.deepEqual(task['input'], { ...DIALPLAN_INPUT, source: 'raw' });
  });

  test('the ?token= credential never reaches the log of a real `berth serve` (accepted or refused)', async () => {
    const berth = spawnBerth(['serve', '--config', FIXTURE_RUNNERS], {
      DATABASE_URL: stack.database.url, PORT: '0', BERTH_INSTANCE: `${stack.database.name}_log`, LOG_LEVEL: 'info',
    });
    try {
      const base = String((await berth.waitForLog('berth is listening'))['url']);
      const accepted = await fetch(`${base}/webhooks/asterisk?token=${ASTERISK_TOKEN}&exten=5001`, { method: 'POST', headers: form, body: 'event=ring' });
      assert.equal(accepted.status, 202, await accepted.text());
      const wrong = await fetch(`${base}/webhooks/asterisk?token=guessed-token-7f3a`, { method: 'POST', headers: form, body: 'event=ring' });
      assert.equal(wrong.status, 401, await wrong.text());
    } finally {
      assert.equal(await berth.stop('SIGTERM'), 0, berth.output());
    }
    const leaks = berth.output().split('\n').filter((line) => line.includes(ASTERISK_TOKEN) || line.includes('guessed-token-7f3a'));
    assert.deepEqual(leaks, [], 'a query-string token is a credential and must be redacted from every log line');
  });
});

describe('generic: Standard Webhooks', () => {
  const PAYLOAD = JSON.parse(STANDARD.toString('utf8'));

  test('a signed delivery starts a task whose input is the whole payload', async () => {
    const task = await created(() => generic(STANDARD));
    assert.deepEqual(task['input'], PAYLOAD);
  });

  test('the webhook\'s callback is its tasks\' default callbackUrl', async () => {
    const task = await created(() => generic(STANDARD));
    assert.equal(task['callbackUrl'], 'http://127.0.0.1:9/webhook-default');
  });

  test('timestamps more than 5 minutes off either way → 401; within 5 minutes → accepted', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(() => generic(STANDARD, { at: now - 360 }), 401, 'UNAUTHORIZED');
    await refused(() => generic(STANDARD, { at: now + 360 }), 401, 'UNAUTHORIZED');
    await created(() => generic(STANDARD, { at: now - 240 }));
    await created(() => generic(STANDARD, { at: now + 240 }));
  });

  test('missing headers, another key, another id or another body → 401 UNAUTHORIZED', async () => {
    const at = Math.floor(Date.now() / 1000);
    const otherKey = parseWebhookSecret('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD');
    await refused(() => deliver('generic', STANDARD, { 'content-type': 'application/json' }), 401, 'UNAUTHORIZED');
    await refused(() => generic(STANDARD, { id: 'msg_a', signature: signStandardWebhook(otherKey, 'msg_a', at, STANDARD) }), 401, 'UNAUTHORIZED');
    await refused(() => generic(STANDARD, { id: 'msg_b', signature: signStandardWebhook(GENERIC_KEY, 'msg_c', at, STANDARD) }), 401, 'UNAUTHORIZED');
    await refused(() => generic(STANDARD, { id: 'msg_d', signature: signStandardWebhook(GENERIC_KEY, 'msg_d', at, `${STANDARD} `) }), 401, 'UNAUTHORIZED');
    await refused(() => generic(STANDARD, { id: 'msg_e', at, signature: `v1a,${signStandardWebhook(GENERIC_KEY, 'msg_e', at, STANDARD).slice(3)}` }), 401, 'UNAUTHORIZED');
  });

  test('key rotation: several signatures, one of them valid, are accepted; none valid is refused', async () => {
    const at = Math.floor(Date.now() / 1000);
    const oldKey = parseWebhookSecret('whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD');
    const both = (id: string, keys: Buffer[]) => keys.map((key) => signStandardWebhook(key, id, at, STANDARD)).join(' ');
    await created(() => generic(STANDARD, { id: 'rot_1', at, signature: both('rot_1', [oldKey, GENERIC_KEY]) }));
    await created(() => generic(STANDARD, { id: 'rot_2', at, signature: `v1a,AAAA ${both('rot_2', [GENERIC_KEY, oldKey])}` }));
    await refused(() => generic(STANDARD, { id: 'rot_3', at, signature: both('rot_3', [oldKey, oldKey]) }), 401, 'UNAUTHORIZED');
  });

  test('a redelivery with the same webhook-id (fresh timestamp and signature) → 200 with the first task', async () => {
    const id = `msg_${randomUUID()}`;
    const first = await created(() => generic(STANDARD, { id, at: Math.floor(Date.now() / 1000) - 30 }));
    const before = await countQueued(stack.pool);
    const again = await generic(STANDARD, { id });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), { taskId: first['id'], workflowId: null, duplicate: true, ignored: null });
    assert.deepEqual(await countQueued(stack.pool), before);
  });

  test('a refused delivery does not use up its webhook-id: the properly signed one still starts a task', async () => {
    const id = `msg_${randomUUID()}`;
    await refused(() => generic(STANDARD, { id, signature: signStandardWebhook(GENERIC_KEY, id, 1, STANDARD) }), 401, 'UNAUTHORIZED');
    await created(() => generic(STANDARD, { id }));
  });

  test('delivery ids are per webhook: the same id on jira and generic starts two tasks', async () => {
    const id = randomUUID();
    const fromJira = await created(() => jira(JIRA_CREATED, { 'x-atlassian-webhook-identifier': id }));
    const fromGeneric = await created(() => generic(STANDARD, { id }));
    assert.notEqual(fromJira['id'], fromGeneric['id']);
  });

  test('a correctly signed body that is not JSON → 400 MALFORMED_PAYLOAD', async () => {
    await refused(() => generic('type=build.completed'), 400, 'MALFORMED_PAYLOAD');
  });
});

describe('a webhook naming a workflow: jira-triage starts a run of triage', () => {
  const triage = (body: Buffer | string, headers: Record<string, string> = {}) => jira(body, headers, 'jira-triage');

  /** Tasks, jobs and workflow runs: what a delivery may create. */
  async function counts(): Promise<{ tasks: number; jobs: number; runs: number }> {
    const { rows } = await stack.pool.query<{ runs: number }>('select count(*)::int as runs from berth.workflow_runs');
    return { ...(await countQueued(stack.pool)), runs: rows[0]!.runs };
  }

  /** A delivery that must start exactly one run (and its first step's task); returns the run. */
  async function started(send: () => Promise<{ statusCode: number; body: string; json(): any }>): Promise<Record<string, any>> {
    const before = await counts();
    const response = await send();
    assert.equal(response.statusCode, 202, response.body);
    const receipt = response.json();
    assert.equal(receipt.taskId, null, 'a webhook naming a workflow names no task');
    assert.equal(receipt.duplicate, false);
    assert.equal(receipt.ignored, null);
    assert.deepEqual(await counts(), { tasks: before.tasks + 1, jobs: before.jobs + 1, runs: before.runs + 1 });
    const run = await stack.app.inject({ method: 'GET', url: `/workflows/${receipt.workflowId}` });
    assert.equal(run.statusCode, 200, run.body);
    return run.json();
  }

  test('a signed delivery starts a run with the mapped input and the webhook\'s callback; its first step is queued', async () => {
    const run = await started(() => triage(JIRA_CREATED));
    assert.equal(run['workflow'], 'triage');
    assert.equal(run['status'], 'running');
    assert.deepEqual(run['input'], { key: 'OPS-42', summary: 'Nightly backup of db-7 failed: "disk full"' });
    assert.equal(run['callbackUrl'], 'http://127.0.0.1:9/webhook-workflow');
    assert.deepEqual(run['steps'].map((step: Record<string, any>) => [step.id, step.status]), [['read', 'queued'], ['report', 'pending']]);
    const task = await stack.app.inject({ method: 'GET', url: `/tasks/${run['steps'][0].taskIds[0]}` });
    assert.equal(task.json().workflowId, run['id']);
    assert.deepEqual(task.json().input.input, run['input'], 'the first step is given the mapped input');
  });

  test('a redelivery with the same X-Atlassian-Webhook-Identifier → 200 with the first run, nothing more created', async () => {
    const identifier = randomUUID();
    const first = await started(() => triage(JIRA_CREATED, { 'x-atlassian-webhook-identifier': identifier }));
    const before = await counts();
    const again = await triage(JIRA_CREATED, { 'x-atlassian-webhook-identifier': identifier });
    assert.equal(again.statusCode, 200, again.body);
    assert.deepEqual(again.json(), { taskId: null, workflowId: first['id'], duplicate: true, ignored: null });
    assert.deepEqual(await counts(), before);
  });

  test('an event outside the filter → 202 with both ids null and the reason, nothing created', async () => {
    const before = await counts();
    const response = await triage(JIRA_UPDATED);
    assert.equal(response.statusCode, 202, response.body);
    const receipt = response.json();
    assert.equal(receipt.taskId, null);
    assert.equal(receipt.workflowId, null);
    assert.equal(receipt.duplicate, false);
    assert.match(receipt.ignored, /'jira:issue_updated' is not one of jira:issue_created; no workflow run was started/);
    assert.deepEqual(await counts(), before);
  });

  test('a mapped input the workflow\'s input_schema refuses → 400 INPUT_INVALID, nothing created', async () => {
    const before = await counts();
    const response = await triage('{"webhookEvent":"jira:issue_created","issue":{"fields":{"summary":"no key"}}}');
    assert.equal(response.statusCode, 400, response.body);
    assert.equal(response.json().code, 'INPUT_INVALID');
    assert.match(response.json().message, /workflow 'triage'/);
    assert.deepEqual(await counts(), before);
  });
});
