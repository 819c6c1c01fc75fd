import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config-error.ts';
import { parseRunnersConfig } from '../../src/runners/load-runners.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function problems(text: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parseRunnersConfig(text, { env, source: 'test.yaml' });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

test('webhooks and callbacks resolve, secrets expanded from the environment', () => {
  const config = parseRunnersConfig(`
runners:
  jira-processor: { image: busybox, callback: "https://hooks.example.com/done" }
webhooks:
  jira:
    source: jira
    runner: jira-processor
    secret: "\${JIRA_SECRET}"
    events: [jira:issue_created]
    input: { key: /issue/key, summary: /issue/fields/summary }
  calls: { source: asterisk, runner: jira-processor, secret: token-1 }
  generic: { source: generic, runner: jira-processor, secret: "${SECRET}", tolerance: 1m }
callbacks:
  endpoints:
    - { url: "https://HOOKS.example.com:443/", secret: "${SECRET}" }
    - { url: "https://hooks.example.com/partner", secret: "\${OTHER}" }
  allow: [127.0.0.1, 10.0.0.0/8, hooks.internal]
  timeout: 5s
  retries: { limit: 3, delay: 2s }
`, { env: { JIRA_SECRET: 'jira-s3cret', OTHER: 'whsec_cBthwHWPCLH4XRU+pTiOll7cU811i0Fb' }, source: 't' });
  const jira = config.webhooks?.get('jira');
  assert.equal(jira?.secret, 'jira-s3cret');
  assert.deepEqual(jira?.events, ['jira:issue_created']);
  assert.deepEqual(jira?.input, { key: '/issue/key', summary: '/issue/fields/summary' });
  assert.equal(jira?.toleranceMs, 300_000);
  assert.equal(config.webhooks?.get('generic')?.toleranceMs, 60_000);
  assert.equal(config.webhooks?.get('generic')?.signingKey?.length, 24);
  assert.equal(config.webhooks?.get('calls')?.signingKey, undefined);
  assert.equal(config.runners.get('jira-processor')?.callback, 'https://hooks.example.com/done');
  // Endpoint URLs are kept normalized, as callback URLs are compared.
  assert.deepEqual(config.callbacks?.endpoints.map((e) => [e.url, e.signingKey.length]), [['https://hooks.example.com/', 24], ['https://hooks.example.com/partner', 24]]);
  assert.deepEqual(config.callbacks?.allow, ['127.0.0.1', '10.0.0.0/8', 'hooks.internal']);
  assert.equal(config.callbacks?.timeoutMs, 5000);
  assert.deepEqual(config.callbacks?.retries, { limit: 3, delayMs: 2000 });
});

test('every problem of the webhook and callback sections is listed', () => {
  assert.deepEqual(problems(`
runners:
  r: { image: busybox, callback: "ftp://x" }
webhooks:
  a: { source: gitlab, runner: nope, secret: "\${UNSET}" }
  b: { source: generic, runner: r, secret: not-a-secret, input: { k: "issue/key" }, callback: "not a url" }
  c: { runner: r }
callbacks:
  endpoints:
    - { url: "https://a.example.com/", secret: whsec_short }
    - { url: "ftp://a.example.com/", secret: "\${UNSET}" }
    - { url: "https://a.example.com", secret: whsec_cBthwHWPCLH4XRU+pTiOll7cU811i0Fb }
  allow: ["10.0.0.0/99"]
  timeout: soon
`), [
    'runners.r.callback: must be an http:// or https:// URL',
    'webhooks.a.source: must be one of: jira, asterisk, generic',
    "webhooks.a.runner: no runner named 'nope'",
    'webhooks.a.secret: variable UNSET is not set',
    'webhooks.b.secret: webhook secret must be "whsec_" followed by a base64 key (characters A-Z a-z 0-9 + / =)',
    'webhooks.b.input.k: must be a JSON Pointer such as /issue/key',
    'webhooks.b.callback: must be an http:// or https:// URL',
    'webhooks.c.source: is required',
    'webhooks.c.secret: is required',
    'callbacks.endpoints.0.secret: webhook secret is not valid base64: its length or padding is wrong (was it truncated?)',
    'callbacks.endpoints.1.url: must be an http:// or https:// URL (a prefix of the callback URLs it signs)',
    'callbacks.endpoints.1.secret: variable UNSET is not set',
    'callbacks.endpoints.2.url: another endpoint has the same URL',
    'callbacks.allow.0: "10.0.0.0/99" is not an IP address or CIDR range (e.g. 10.0.0.0/8, fd00::/8)',
    'callbacks.timeout: must be a positive duration',
  ]);
});

test('a default callback needs the callbacks section', () => {
  assert.deepEqual(problems(`
runners:
  r: { image: busybox, callback: "https://example.com/cb" }
webhooks:
  w: { source: asterisk, runner: r, secret: t, callback: "https://example.com/cb" }
`), ['runners.r.callback: needs a callbacks section (with endpoints and their secrets)', 'webhooks.w.callback: needs a callbacks section (with endpoints and their secrets)']);
});

test('a default callback must fall under an endpoint; the old single secret is refused, saying what replaced it', () => {
  assert.deepEqual(problems(`
runners:
  r: { image: busybox, callback: "https://example.com/hooks/x" }
  s: { image: busybox, callback: "https://example.com/hooksmith" }
  t: { image: busybox, callback: "https://example.com.evil.org/hooks/x" }
callbacks:
  endpoints: [{ url: "https://example.com/hooks", secret: whsec_cBthwHWPCLH4XRU+pTiOll7cU811i0Fb }]
`), [
    'runners.s.callback: is under no callbacks endpoint (callbacks.endpoints[].url)',
    'runners.t.callback: is under no callbacks endpoint (callbacks.endpoints[].url)',
  ]);
  assert.deepEqual(problems('runners: { r: { image: busybox } }\ncallbacks: { secret: whsec_cBthwHWPCLH4XRU+pTiOll7cU811i0Fb }\n'), [
    'callbacks.endpoints: is required',
    'callbacks.secret: replaced by endpoints: [{url, secret}]: each destination of callbacks has its own secret, so that nobody who may submit can have Berth sign for a URL of their choosing',
  ]);
});

test('webhook names follow the same pattern as runner names', () => {
  assert.deepEqual(problems('runners: { r: { image: busybox } }\nwebhooks: { "-calls": { source: asterisk, runner: r, secret: t } }'), [
    "webhooks.-calls: invalid webhook name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
  ]);
});

test('a webhook starts the runner or the workflow it names, wherever the workflows section is in the file', () => {
  const config = parseRunnersConfig(`
runners:
  r: { image: busybox }
webhooks:
  tasks: { source: asterisk, runner: r, secret: t }
  pipeline: { source: jira, workflow: triage, secret: s, input: { key: /issue/key } }
workflows:
  triage: { steps: { only: { runner: r } } }
`, { env: {}, source: 't' });
  assert.deepEqual(config.webhooks?.get('tasks')?.target, { kind: 'runner', name: 'r' });
  assert.deepEqual(config.webhooks?.get('pipeline')?.target, { kind: 'workflow', name: 'triage' });
  assert.deepEqual(config.webhooks?.get('pipeline')?.input, { key: '/issue/key' });
});

test('a webhook names exactly one of runner and workflow, and one that exists: every problem listed', () => {
  assert.deepEqual(problems(`
runners:
  r: { image: busybox }
workflows:
  wf: { steps: { only: { runner: r } } }
webhooks:
  neither: { source: asterisk, secret: t }
  both: { source: asterisk, runner: r, workflow: wf, secret: t }
  both-unknown: { source: asterisk, runner: nope, workflow: gone, secret: t }
  unknown: { source: asterisk, workflow: nope, secret: t }
  a-runner-is-no-workflow: { source: asterisk, workflow: r, secret: t }
  mistyped: { source: asterisk, workflow: [wf], secret: t }
  empty: { source: asterisk, workflow: "", secret: t }
`), [
    'webhooks.neither: needs runner or workflow (what its deliveries start)',
    'webhooks.both: give runner or workflow, not both',
    'webhooks.both-unknown: give runner or workflow, not both',
    "webhooks.both-unknown.runner: no runner named 'nope'",
    "webhooks.both-unknown.workflow: no workflow named 'gone'",
    "webhooks.unknown.workflow: no workflow named 'nope'",
    "webhooks.a-runner-is-no-workflow.workflow: no workflow named 'r'",
    'webhooks.mistyped.workflow: must be a string',
    'webhooks.empty.workflow: must not be empty',
  ]);
});
