/**
 * The example runners as a user meets them: examples/berth.yaml served by `berth start`, their
 * images made by scripts/example-images.ts on each engine under test, and real deliveries to the
 * jira and asterisk webhooks. The scripts' rules are held to exact outputs through the engine, so
 * what is asserted is what the images do, not a copy of their logic.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ensureExampleImages } from '../../scripts/example-images.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { spawnBerth, type BerthProcess } from '../helpers/berth-process.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { testEngines } from '../helpers/engines.ts';

const CONFIG = fileURLToPath(new URL('../../examples/berth.yaml', import.meta.url));
const JIRA_SECRET = 'jira-example-secret';
const ASTERISK_TOKEN = 'asterisk-example-token';
const JIRA_CREATED = readFileSync(new URL('../fixtures/webhooks/jira-issue-created.json', import.meta.url));
/** Wednesday 2026-12-02 10:00 and Sunday 2026-12-06 03:00, UTC (the example's default TZ). */
const WEDNESDAY_10 = '1796205600';
const SUNDAY_03 = '1796526000';

/** A Jira issue_updated payload with the fields the jira webhook maps. */
function jiraIssue(key: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { id: '1', key, fields } });
}

for (const engineUnderTest of testEngines()) {
  describe(`the examples on ${engineUnderTest.name}`, () => {
    const engine = createDockerEngine({ dockerHost: engineUnderTest.dockerHost });
    let database: TestDatabase;
    let berth: BerthProcess;
    let url: string;

    before(async () => {
      await ensureExampleImages(engineUnderTest.dockerHost);
      database = await createTestDatabase();
      berth = spawnBerth(['start', '--config', CONFIG], {
        DATABASE_URL: database.url,
        DOCKER_HOST: engineUnderTest.dockerHost,
        PORT: '0',
        BERTH_INSTANCE: database.name,
        JIRA_WEBHOOK_SECRET: JIRA_SECRET,
        ASTERISK_TOKEN,
      });
      url = String((await berth.waitForLog('berth is listening'))['url']);
    });

    after(async () => {
      const code = await berth?.stop('SIGTERM');
      assert.equal(code, 0, `berth must exit 0 on SIGTERM; output:\n${berth?.output()}`);
      await database?.drop();
    });

    async function jira(body: string | Buffer, secret = JIRA_SECRET): Promise<Response> {
      return fetch(`${url}/webhooks/jira`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-hub-signature': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
          'x-atlassian-webhook-identifier': randomUUID(),
        },
        body,
      });
    }

    /** As the dialplan's CURL() posts: form fields, no Content-Type, the token in the query. */
    async function asterisk(fields: Record<string, string>, token = ASTERISK_TOKEN): Promise<Response> {
      return fetch(`${url}/webhooks/asterisk?token=${encodeURIComponent(token)}`, {
        method: 'POST',
        body: Buffer.from(new URLSearchParams(fields).toString()),
      });
    }

    /** The task a 202 receipt names, once final, with its log; its container must be gone. */
    async function outcome(response: Response): Promise<{ task: Record<string, any>; log: string }> {
      const receipt = await response.json() as Record<string, any>;
      assert.equal(response.status, 202, JSON.stringify(receipt));
      assert.equal(typeof receipt['taskId'], 'string', JSON.stringify(receipt));
      const task = await (await fetch(`${url}/tasks/${receipt['taskId']}?wait=30`)).json() as Record<string, any>;
      assert.equal(task['status'], 'succeeded', JSON.stringify(task));
      assert.deepEqual(await engine.listContainers({ 'berth.task-id': task['id'] }), [], 'container must be removed');
      return { task, log: await (await fetch(`${url}/tasks/${task['id']}/logs`)).text() };
    }

    async function submitted(runner: string, input: unknown): Promise<{ status: number; body: Record<string, any> }> {
      const response = await fetch(`${url}/tasks`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ runner, input }),
      });
      return { status: response.status, body: await response.json() as Record<string, any> };
    }

    test('jira-triage: a captured issue_created goes to infrastructure at its priority', async () => {
      const { task, log } = await outcome(await jira(JIRA_CREATED));
      assert.deepEqual(task['input'], {
        key: 'OPS-42', summary: 'Nightly backup of db-7 failed: "disk full"',
        description: 'The 02:00 backup job exited with code 28.\nSee attached log.',
        priority: 'High', labels: ['backup', 'nightly'], issueType: 'Bug',
      });
      assert.deepEqual(task['output'], {
        key: 'OPS-42', team: 'infrastructure', severity: 'medium',
        labels: ['backup', 'nightly', 'team-infrastructure', 'severity-medium'],
        reason: 'severity medium: priority High; team infrastructure: "backup" in the text',
      });
      assert.equal(log, 'jira-triage: OPS-42 -> team infrastructure, severity medium\n');
    });

    test('jira-triage: an outage word makes it high, sso makes it identity, labels survive escaping', async () => {
      const labels = ['customer', 'q"uote\\d', 'ünï😀', 'team-identity'];
      const body = jiraIssue('AUTH-7', {
        summary: 'Users cannot sign in',
        description: 'Since 09:10 the SSO\tprovider answers 502.\nFull OUTAGE for "EU" tenants.',
        priority: { name: 'Medium' }, labels, issuetype: { name: 'Incident' },
      });
      const { task } = await outcome(await jira(body));
      assert.deepEqual(task['output'], {
        key: 'AUTH-7', team: 'identity', severity: 'high',
        labels: [...labels, 'severity-high'],
        reason: 'severity high: "outage" in the text; team identity: "sso" in the text',
      });
    });

    test('jira-triage: no keyword, low priority and a missing description go to triage as low', async () => {
      const body = jiraIssue('WEB-3', { summary: 'Typo on the pricing page', priority: { name: 'Low' }, issuetype: { name: 'Task' } });
      const { task } = await outcome(await jira(body));
      assert.deepEqual(task['input'], {
        key: 'WEB-3', summary: 'Typo on the pricing page', description: null, priority: 'Low', labels: null, issueType: 'Task',
      });
      assert.deepEqual(task['output'], {
        key: 'WEB-3', team: 'triage', severity: 'low', labels: ['team-triage', 'severity-low'],
        reason: 'severity low: no urgent word or priority; team triage: no team keyword',
      });
    });

    test('jira: a wrong signature is refused, and an event outside events starts nothing', async () => {
      assert.equal((await jira(JIRA_CREATED, 'change-me')).status, 401);
      const deleted = JSON.stringify({ webhookEvent: 'jira:issue_deleted', issue: { key: 'OPS-1', fields: { summary: 'x' } } });
      const response = await jira(deleted);
      assert.equal(response.status, 202);
      assert.equal((await response.json() as Record<string, unknown>)['taskId'], null);
    });

    test('asterisk-call: a known extension in business hours is routed', async () => {
      const { task, log } = await outcome(await asterisk({
        event: 'ring', uniqueid: '1796205600.17', callerid_num: '+15555550123', exten: '5001',
        channel: 'PJSIP/provider-trunk-0000002a', epoch: WEDNESDAY_10,
      }));
      assert.deepEqual(task['input'], {
        uniqueid: '1796205600.17', caller: '+15555550123', exten: '5001', channel: 'PJSIP/provider-trunk-0000002a', epoch: WEDNESDAY_10,
      });
      assert.deepEqual(task['output'], {
        uniqueid: '1796205600.17', action: 'route', target: 'Queue/support',
        reason: 'extension 5001 is Queue/support, within business hours on Wed at 10:00',
      });
      assert.equal(log, 'asterisk-call: 1796205600.17 from +15555550123 to 5001 -> route Queue/support\n');
    });

    test('asterisk-call: outside business hours the call goes to voicemail', async () => {
      const { task } = await outcome(await asterisk({ uniqueid: '1796526000.3', callerid_num: '+15555550123', exten: '100', epoch: SUNDAY_03 }));
      assert.deepEqual(task['output'], {
        uniqueid: '1796526000.3', action: 'voicemail', target: '100@default',
        reason: 'outside business hours (days 1-5, 0800-1800) on Sun at 03:00',
      });
    });

    test('asterisk-call: a blocked caller prefix and an unknown extension are rejected', async () => {
      const blocked = await outcome(await asterisk({ uniqueid: '1.1', callerid_num: '+19005550100', exten: '5001', epoch: WEDNESDAY_10 }));
      assert.deepEqual(blocked.task['output'], {
        uniqueid: '1.1', action: 'reject', target: null, reason: 'caller +19005550100 matches blocked prefix +1900',
      });
      const unknown = await outcome(await asterisk({ uniqueid: '1.2', exten: '777', epoch: WEDNESDAY_10 }));
      assert.deepEqual(unknown.task['input'], { uniqueid: '1.2', caller: null, exten: '777', channel: null, epoch: WEDNESDAY_10 });
      assert.deepEqual(unknown.task['output'], {
        uniqueid: '1.2', action: 'reject', target: null, reason: 'extension 777 is not in the extension map',
      });
    });

    test('asterisk: a wrong token is refused, and a call without an extension fails the input schema', async () => {
      assert.equal((await asterisk({ uniqueid: '1.3', exten: '100' }, 'change-me')).status, 401);
      const response = await asterisk({ uniqueid: '1.4', callerid_num: '+15555550123' });
      assert.equal(response.status, 400, JSON.stringify(await response.clone().json()));
      const refusal = await response.json() as Record<string, unknown>;
      assert.equal(refusal['code'], 'INPUT_INVALID');
      assert.match(JSON.stringify(refusal), /exten/);
    });

    test('POST /tasks: inputs that fail the input schemas are a 400', async () => {
      const jiraBad = await submitted('jira-triage', { key: 'not a key', summary: 5 });
      assert.equal(jiraBad.status, 400, JSON.stringify(jiraBad.body));
      assert.equal(jiraBad.body['code'], 'INPUT_INVALID');
      assert.match(JSON.stringify(jiraBad.body), /\/input\/key.*\/input\/summary|\/input\/summary.*\/input\/key/);
      const callBad = await submitted('asterisk-call', { uniqueid: '1.5', exten: '5001; rm -rf /' });
      assert.equal(callBad.status, 400, JSON.stringify(callBad.body));
      assert.equal(callBad.body['code'], 'INPUT_INVALID');
      assert.match(JSON.stringify(callBad.body), /\/input\/exten/);
      const good = await submitted('jira-triage', { key: 'OPS-9', summary: 'Checkout crashed' });
      assert.equal(good.status, 202, JSON.stringify(good.body));
      const task = await (await fetch(`${url}/tasks/${good.body['id']}?wait=30`)).json() as Record<string, any>;
      assert.deepEqual(task['output'], {
        key: 'OPS-9', team: 'triage', severity: 'high', labels: ['team-triage', 'severity-high'],
        reason: 'severity high: "crashed" in the text; team triage: no team keyword',
      });
    });
  });
}
