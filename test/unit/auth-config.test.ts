import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { apiAccessMode, isLoopbackHost, isLoopbackHostHeader } from '../../src/api/api-access.ts';
import { ConfigError } from '../../src/config-error.ts';
import { globMatches, hasScope, likePatterns, mayUseCallback, mayUseRunner, mayUseWorkflow } from '../../src/runners/access.ts';
import { parseRunnersConfig } from '../../src/runners/load-runners.ts';
import { StartupError } from '../../src/startup-error.ts';
import { parseRate } from '../../src/rate-limits.ts';

const RUNNERS = `
runners:
  echo: { image: busybox }
  scan-a: { image: busybox }
workflows:
  flow: { steps: { one: { runner: echo } } }
`;

function parse(auth: string, env: Record<string, string> = {}) {
  return parseRunnersConfig(`${RUNNERS}${auth}`, { env, source: 'berth.yaml' });
}

function problems(auth: string, env: Record<string, string> = {}): readonly string[] {
  try {
    parse(auth, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((line) => line.replace(/^berth\.yaml: /, ''));
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

const SECRET = 'a-long-enough-secret-123';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

test('keys resolve to their SHA-256 and access: a secret from ${VAR}, or only its digest', () => {
  const auth = parse(`
auth:
  keys:
    - { name: ci, key: "\${CI_KEY}", scopes: [tasks:read, tasks:write] }
    - { name: ops, sha256: "${sha('other-secret-0123456789').toUpperCase()}", scopes: [admin] }
    - { name: scan, key: "${SECRET}", scopes: [tasks:write], runners: ["scan-*"] }
`, { CI_KEY: 'ci-secret-0123456789' }).auth;
  assert.ok(auth?.mode === 'keys');
  const [ci, ops, scan] = auth.keys;
  assert.equal(ci!.sha256.toString('hex'), sha('ci-secret-0123456789'));
  assert.deepEqual([...ci!.access.scopes], ['tasks:read', 'tasks:write']);
  assert.equal(ci!.access.runners, undefined);
  assert.equal(ci!.access.workflows, undefined);
  assert.equal(ops!.sha256.toString('hex'), sha('other-secret-0123456789'));
  // A key limited in runners may start no workflow: limited in one is limited in both.
  assert.deepEqual(scan!.access.runners, ['scan-*']);
  assert.deepEqual(scan!.access.workflows, []);
  assert.equal(mayUseWorkflow(scan!.access, 'flow'), false);
  assert.equal(mayUseRunner(scan!.access, 'scan-a'), true);
  assert.equal(mayUseRunner(scan!.access, 'echo'), false);
});

test('auth: none opens the API; no section leaves it to the loopback rule', () => {
  assert.deepEqual(parse('auth: none\n').auth, { mode: 'none' });
  assert.equal(parse('').auth, undefined);
});

test('every problem of the auth section is named by its path', () => {
  assert.deepEqual(problems(`
auth:
  keys:
    - { name: a, scopes: [tasks:read] }
    - { name: b, key: "${SECRET}", sha256: "${sha(SECRET)}", scopes: [tasks:read] }
    - { name: c, key: short, scopes: [tasks:read] }
    - { name: d, sha256: "abc", scopes: [tasks:read] }
    - { name: e, key: "\${MISSING}", scopes: [tasks:read] }
    - { name: e, key: "${SECRET}", scopes: [] }
    - { name: g, sha256: "${sha(SECRET)}", scopes: [tasks:admin] }
    - { name: h, key: "second-secret-0123456", scopes: [admin], runners: [nope, "scan-*", "bad name"], workflows: [flow, gone] }
    - { name: i, key: "third-secret-01234567", scopes: [admin], callbacks: ["https://ok.example.com/ci", "not a url", "ftp://x/"] }
`), [
    'auth.keys.0: needs key (the secret, usually ${VAR}) or sha256 (its SHA-256 in hex)',
    'auth.keys.1: give key or sha256, not both',
    'auth.keys.2.key: must be at least 16 characters (berth key new makes one)',
    'auth.keys.3.sha256: must be 64 hexadecimal digits (the SHA-256 of the key; berth key new prints it)',
    'auth.keys.4.key: variable MISSING is not set',
    'auth.keys.5.name: another key is already named \'e\'',
    'auth.keys.5.scopes: must not be empty',
    'auth.keys.6: has the same secret as key \'e\'',
    'auth.keys.6.scopes.0: must be one of: tasks:read, tasks:write, admin',
    'auth.keys.7.runners.0: no runner named \'nope\'',
    'auth.keys.7.runners.2: must be a runner name, or a pattern with *',
    'auth.keys.7.workflows.1: no workflow named \'gone\'',
    'auth.keys.8.callbacks.1: must be an http:// or https:// URL (a prefix of the callback URLs this key may give)',
    'auth.keys.8.callbacks.2: must be an http:// or https:// URL (a prefix of the callback URLs this key may give)',
  ]);
  assert.deepEqual(problems('auth: open\n'), ['auth: must be none or a mapping with keys:']);
  assert.deepEqual(problems('auth: { keys: [] }\n'), ['auth.keys: must not be empty']);
});

test('scopes: admin holds every scope', () => {
  const access = (scopes: ('tasks:read' | 'tasks:write' | 'admin')[]) => ({ principal: 'k', scopes: new Set(scopes), runners: undefined, workflows: undefined });
  assert.equal(hasScope(access(['admin']), 'tasks:write'), true);
  assert.equal(hasScope(access(['tasks:read']), 'tasks:write'), false);
  assert.equal(hasScope(access(['tasks:write']), 'admin'), false);
});

test('globs match whole names, * any run of characters, everything else literally; LIKE patterns escape _ and %', () => {
  assert.equal(globMatches('scan-*', 'scan-a'), true);
  assert.equal(globMatches('scan-*', 'scan-'), true);
  assert.equal(globMatches('scan-*', 'xscan-a'), false);
  assert.equal(globMatches('a.b', 'axb'), false);
  assert.equal(globMatches('*', 'anything'), true);
  assert.deepEqual(likePatterns(['scan_b', 'a%*', 'x\\y']), ['scan\\_b', 'a\\%%', 'x\\\\y']);
});

test('without an auth section Berth listens on loopback only, and says why otherwise', () => {
  assert.deepEqual(apiAccessMode(undefined, '127.0.0.1'), { kind: 'loopback' });
  assert.deepEqual(apiAccessMode(undefined, 'localhost'), { kind: 'loopback' });
  assert.deepEqual(apiAccessMode(undefined, '::1'), { kind: 'loopback' });
  assert.deepEqual(apiAccessMode({ mode: 'none' }, '0.0.0.0'), { kind: 'open' });
  for (const host of ['0.0.0.0', '::', '10.1.2.3', 'berth.internal']) {
    assert.throws(() => apiAccessMode(undefined, host), (error: unknown) => error instanceof StartupError &&
      error.message.startsWith(`Berth would listen on ${host} without API keys: add an auth: section`));
  }
});

test('loopback names and Host headers', () => {
  for (const host of ['127.0.0.1', '127.5.6.7', '::1', '[::1]', 'localhost', 'x.localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '128.0.0.1', 'localhost.example', '10.0.0.1', '']) assert.equal(isLoopbackHost(host), false, host);
  for (const header of ['localhost:3000', '127.0.0.1', '[::1]:80', 'LOCALHOST']) assert.equal(isLoopbackHostHeader(header), true, header);
  for (const header of ['evil.example', '127.0.0.1.nip.io:3000', '::1', '', 'localhost:3000:1', 'localhost:']) assert.equal(isLoopbackHostHeader(header), false, header);
});

test('a key\'s callback prefixes cover URLs at a boundary only, compared normalized', () => {
  const auth = parse(`
auth:
  keys: [{ name: ci, key: "${SECRET}", scopes: [tasks:write], callbacks: ["https://HOOKS.example.com:443/ci"] }]
`).auth;
  assert.ok(auth?.mode === 'keys');
  const access = auth.keys[0]!.access;
  assert.deepEqual(access.callbacks, ['https://hooks.example.com/ci']);
  for (const url of ['https://hooks.example.com/ci', 'https://hooks.example.com/ci/1', 'https://hooks.example.com/ci?x', 'https://hooks.example.com:443/ci#f']) {
    assert.equal(mayUseCallback(access, url), true, url);
  }
  for (const url of [
    'https://hooks.example.com/cid', 'https://hooks.example.com/', 'http://hooks.example.com/ci', 'https://hooks.example.com.evil.org/ci', 'nonsense',
    // Resolved by WHATWG URL, so out from under the prefix; and encoded separators a receiver may decode.
    'https://hooks.example.com/ci/../team-b', 'https://hooks.example.com/ci/..%2fteam-b', 'https://hooks.example.com/ci/%2E%2E%2Fteam-b', 'https://hooks.example.com/ci/x%5c..',
  ]) {
    assert.equal(mayUseCallback(access, url), false, url);
  }
});

test('rates: N/s, N/m, N/h as a burst of N refilled over the window; the file\'s defaults, a key\'s own, none', () => {
  assert.deepEqual(parseRate('100/s'), { text: '100/s', burst: 100, perSecond: 100 });
  assert.deepEqual(parseRate(' 600 / m '), { text: '600/m', burst: 600, perSecond: 10 });
  assert.deepEqual(parseRate('36/h'), { text: '36/h', burst: 36, perSecond: 0.01 });
  for (const text of ['0/s', '10', '10/d', '-1/s', '1.5/s', '2000000/s', '']) assert.equal(parseRate(text), undefined, text);
  const config = parse(`
rate_limits: { keys: 10/s, webhooks: none }
auth:
  keys:
    - { name: a, key: "${SECRET}", scopes: [admin] }
    - { name: b, key: "another-secret-0123456", scopes: [admin], rate: 1/m }
    - { name: c, key: "third-secret-01234567", scopes: [admin], rate: none }
`);
  assert.equal(config.rateLimits?.webhooks, undefined);
  assert.ok(config.auth?.mode === 'keys');
  assert.deepEqual(config.auth.keys.map((key) => key.rate?.text), ['10/s', '1/m', undefined]);
  assert.deepEqual(parse('').rateLimits, { keys: parseRate('100/s'), webhooks: parseRate('50/s') }, 'the defaults');
  assert.deepEqual(problems(`
rate_limits: { keys: fast, webhooks: 0/s }
auth: { keys: [{ name: a, key: "${SECRET}", scopes: [admin], rate: 5/d }] }
`), [
    'rate_limits.keys: must be a rate such as 100/s, 600/m or 10000/h (at most 1000000 a window), or none',
    'rate_limits.webhooks: must be a rate such as 100/s, 600/m or 10000/h (at most 1000000 a window), or none',
    'auth.keys.0.rate: must be a rate such as 100/s, 600/m or 10000/h (at most 1000000 a window), or none',
  ]);
});
