import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import {
  CallbackDeliveryError,
  checkCallbackUrl,
  classifyAddress,
  createAllowList,
  createGuardedFetch,
  type AddressCategory,
  type Lookup,
} from '../../src/address-guard.ts';

test('classifyAddress: IPv4, IPv6 and IPv4 embedded in IPv6', () => {
  const table: [string, AddressCategory][] = [
    ['93.184.215.14', 'public'], ['8.8.8.8', 'public'], ['1.1.1.1', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'],
    ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'], ['0:0:0:0:0:0:0:1', 'loopback'],
    ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.10', 'private'],
    ['100.64.0.1', 'private'], ['100.127.255.254', 'private'], ['fc00::1', 'private'], ['fd12:3456:789a::1', 'private'],
    ['169.254.0.1', 'link-local'], ['169.254.170.2', 'link-local'], ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf::1', 'link-local'],
    ['169.254.169.254', 'metadata'], ['fd00:ec2::254', 'metadata'], ['::ffff:169.254.169.254', 'metadata'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['ff02::1', 'multicast'],
    ['0.1.2.3', 'reserved'], ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['192.0.2.7', 'reserved'],
    ['198.18.0.1', 'reserved'], ['198.51.100.1', 'reserved'], ['203.0.113.9', 'reserved'], ['192.0.0.170', 'reserved'],
    ['2001:db8::1', 'reserved'], ['2002:c000:0204::1', 'reserved'], ['2001:0:4136:e378::1', 'reserved'], ['100::1', 'reserved'],
    ['::10.0.0.1', 'reserved'], ['4000::1', 'reserved'], ['3fff::1', 'reserved'],
    ['2606:4700:4700::1111', 'public'], ['2a00:1450:4001:80b::200e', 'public'],
    // IPv4-mapped and NAT64 addresses are judged by the IPv4 address they reach.
    ['::ffff:10.0.0.1', 'private'], ['::ffff:a00:1', 'private'], ['::ffff:127.0.0.1', 'loopback'], ['::ffff:8.8.8.8', 'public'],
    ['0:0:0:0:0:ffff:7f00:1', 'loopback'], ['64:ff9b::10.1.2.3', 'private'], ['64:ff9b::808:808', 'public'],
    ['[::1]', 'loopback'], ['64:ff9b:1::1', 'private'], ['fec0::1', 'private'],
  ];
  for (const [ip, expected] of table) assert.equal(classifyAddress(ip), expected, ip);
});

test('classifyAddress: anything but an IP address throws', () => {
  for (const text of ['localhost', '', '1.2.3', '256.1.1.1', '::g', '10.0.0.0/8']) assert.throws(() => classifyAddress(text), /not an IP address/, text);
});

test('allow-list: IPs, CIDRs and hostnames', () => {
  const allow = createAllowList(['127.0.0.1', '10.20.0.0/16', 'fd00:1234::/32', 'Hooks.Internal.', ' ::1 ']);
  assert.equal(allow.allows('x', '127.0.0.1'), true);
  assert.equal(allow.allows('x', '127.0.0.2'), false);
  assert.equal(allow.allows('x', '10.20.255.1'), true);
  assert.equal(allow.allows('x', '10.21.0.1'), false);
  assert.equal(allow.allows('x', '::ffff:10.20.3.4'), true, 'IPv4-mapped form of an allowed address');
  assert.equal(allow.allows('x', 'fd00:1234:ab::1'), true);
  assert.equal(allow.allows('x', 'fd00:1235::1'), false);
  assert.equal(allow.allows('x', '::1'), true);
  assert.equal(allow.allows('hooks.internal', '192.168.4.4'), true);
  assert.equal(allow.allows('HOOKS.internal.', '10.9.9.9'), true);
  assert.equal(allow.allows('other.internal', '192.168.4.4'), false);
  assert.equal(allow.allows('hooks.internal', 'not-an-ip'), false);
});

test('allow-list: a hostname entry never unlocks the metadata address; an explicit IP does', () => {
  assert.equal(createAllowList(['hooks.internal']).allows('hooks.internal', '169.254.169.254'), false);
  assert.equal(createAllowList(['169.254.169.254']).allows('anything', '169.254.169.254'), true);
});

test('allow-list: invalid entries throw naming the entry', () => {
  for (const entry of ['10.0.0.0/33', '10.0.0.0/', '::/129', 'not a host', '10.0.0.0/8/8', 'http://hooks.internal', '*.example.com', '']) {
    assert.throws(() => createAllowList([entry]), (error: Error) => error.message.includes(`"${entry.trim()}"`) || error.message.includes(`"${entry}"`), entry);
  }
});

const noAllow = createAllowList([]);
const fakeDns = (table: Record<string, string[]>): Lookup & { calls: string[] } => {
  const calls: string[] = [];
  const lookup = async (host: string) => {
    calls.push(host);
    const addresses = table[host];
    if (addresses === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(lookup, { calls });
};

test('checkCallbackUrl: public hosts pass; any private address among several refuses', async () => {
  const lookup = fakeDns({ 'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'], 'split.example.com': ['93.184.215.14', '10.0.0.7'] });
  assert.deepEqual(await checkCallbackUrl('https://hooks.example.com/berth?x=1', { lookup, allow: noAllow }), { ok: true });
  const result = await checkCallbackUrl('https://split.example.com/cb', { lookup, allow: noAllow });
  assert.equal(result.ok, false);
  assert.match(!result.ok ? result.message : '', /"split\.example\.com" resolves to 10\.0\.0\.7, a private address/);
});

test('checkCallbackUrl: IP literals are checked without a lookup', async () => {
  const lookup = fakeDns({});
  for (const [url, reason] of [
    ['http://127.0.0.1:8080/', /127\.0\.0\.1, a loopback address/], ['http://[::1]/', /::1, a loopback address/],
    ['http://169.254.169.254/latest/meta-data/', /metadata address/], ['http://[::ffff:a00:1]/', /private address/],
    ['http://2130706433/', /127\.0\.0\.1, a loopback/], ['http://0x0a.0.0.1/', /10\.0\.0\.1, a private/], ['http://0.0.0.0:9000/', /unspecified/],
  ] as const) {
    const result = await checkCallbackUrl(url, { lookup, allow: noAllow });
    assert.match(result.ok ? 'ok' : result.message, reason, url);
  }
  assert.deepEqual(await checkCallbackUrl('http://8.8.8.8/', { lookup, allow: noAllow }), { ok: true });
  assert.deepEqual(lookup.calls, []);
});

test('checkCallbackUrl: scheme, credentials, resolution failures', async () => {
  const lookup = fakeDns({ 'empty.example.com': [] });
  const message = async (url: string) => {
    const result = await checkCallbackUrl(url, { lookup, allow: noAllow });
    return result.ok ? 'ok' : result.message;
  };
  assert.match(await message('ftp://files.example.com/x'), /"files\.example\.com" must use http or https, not ftp/);
  assert.match(await message('file:///etc/passwd'), /must use http or https/);
  assert.match(await message('https://user:pw@hooks.example.com/'), /"hooks\.example\.com" must not contain credentials/);
  assert.match(await message('https://token@hooks.example.com/'), /credentials/);
  assert.match(await message('not a url'), /not a valid absolute URL/);
  assert.match(await message('https://nowhere.example.com/'), /"nowhere\.example\.com" could not be resolved: getaddrinfo ENOTFOUND/);
  assert.match(await message('https://empty.example.com/'), /resolved to no address/);
});

test('checkCallbackUrl: allow-listed private addresses pass', async () => {
  const lookup = fakeDns({ 'hooks.internal': ['10.1.2.3'] });
  assert.deepEqual(await checkCallbackUrl('http://hooks.internal/cb', { lookup, allow: createAllowList(['hooks.internal']) }), { ok: true });
  assert.deepEqual(await checkCallbackUrl('http://hooks.internal/cb', { lookup, allow: createAllowList(['10.1.0.0/16']) }), { ok: true });
  assert.deepEqual(await checkCallbackUrl('http://127.0.0.1:3000/cb', { lookup, allow: createAllowList(['127.0.0.1']) }), { ok: true });
});

// A real server on loopback: what it received tells whether a request got through.
type Received = { method: string | undefined; url: string | undefined; headers: IncomingMessage['headers']; body: string };
const received: Received[] = [];
let server: Server;
let port: number;

before(async () => {
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ method: request.method, url: request.url, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (request.url === '/hang') return; // never answers
      if (request.url === '/redirect') return void response.writeHead(302, { location: `http://127.0.0.1:${port}/target` }).end();
      if (request.url === '/large') return void response.writeHead(200).end('x'.repeat(200 * 1024));
      response.writeHead(202, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const delivery = { method: 'POST' as const, headers: { 'content-type': 'application/json', 'webhook-id': 'msg_1' }, body: '{"taskId":"t-1"}' };

async function refusal(promise: Promise<unknown>, reason: CallbackDeliveryError['reason'], pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof CallbackDeliveryError, String(error));
    assert.equal(error.reason, reason, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

test('guarded fetch: loopback is refused unless allowed, and nothing reaches the server', async () => {
  received.length = 0;
  const fetch = createGuardedFetch({ allow: noAllow, timeoutMs: 2_000 });
  await refusal(fetch(`http://127.0.0.1:${port}/cb`, delivery), 'refused_address', /"127\.0\.0\.1" resolves to 127\.0\.0\.1, a loopback address/);
  await refusal(fetch(`http://[::ffff:127.0.0.1]:${port}/cb`, delivery), 'refused_address', /loopback/);
  assert.equal(received.length, 0);
});

test('guarded fetch: delivers to an allowed address and returns status and body', async () => {
  received.length = 0;
  const fetch = createGuardedFetch({ allow: createAllowList(['127.0.0.1']), timeoutMs: 2_000 });
  assert.deepEqual(await fetch(`http://127.0.0.1:${port}/cb?task=1`, delivery), { status: 202, body: '{"received":true}' });
  assert.equal(received.length, 1);
  assert.equal(received[0]?.method, 'POST');
  assert.equal(received[0]?.url, '/cb?task=1');
  assert.equal(received[0]?.headers['webhook-id'], 'msg_1');
  assert.equal(received[0]?.headers['content-length'], String(delivery.body.length));
  assert.equal(received[0]?.body, delivery.body);
});

test('guarded fetch: a redirect is returned, not followed', async () => {
  received.length = 0;
  const fetch = createGuardedFetch({ allow: createAllowList(['127.0.0.1']), timeoutMs: 2_000 });
  const response = await fetch(`http://127.0.0.1:${port}/redirect`, delivery);
  assert.equal(response.status, 302);
  assert.deepEqual(received.map((r) => r.url), ['/redirect']);
});

test('guarded fetch: the response body is cut at 64 KiB', async () => {
  const fetch = createGuardedFetch({ allow: createAllowList(['127.0.0.1']), timeoutMs: 2_000 });
  const response = await fetch(`http://127.0.0.1:${port}/large`, delivery);
  assert.equal(response.status, 200);
  assert.equal(response.body.length, 64 * 1024);
});

test('guarded fetch: a server that never answers times out', async () => {
  const fetch = createGuardedFetch({ allow: createAllowList(['127.0.0.1']), timeoutMs: 150 });
  const started = Date.now();
  await refusal(fetch(`http://127.0.0.1:${port}/hang`, delivery), 'timeout', /did not complete within 150 ms/);
  assert.ok(Date.now() - started < 1_500);
});

test('guarded fetch: a lookup that never answers times out too', async () => {
  const fetch = createGuardedFetch({ allow: noAllow, lookup: () => new Promise(() => {}), timeoutMs: 100 });
  await refusal(fetch(`http://stuck.example.com:${port}/cb`, delivery), 'timeout', /"stuck\.example\.com"/);
});

test('guarded fetch: the name is checked on what it resolves to at connect time (DNS rebinding)', async () => {
  received.length = 0;
  let answer = '93.184.215.14';
  const rebinding: Lookup = async () => [{ address: answer, family: 4 }];
  const url = `http://rebind.example.com:${port}/cb`;
  assert.deepEqual(await checkCallbackUrl(url, { lookup: rebinding, allow: noAllow }), { ok: true });
  answer = '127.0.0.1';
  const fetch = createGuardedFetch({ allow: noAllow, lookup: rebinding, timeoutMs: 2_000 });
  await refusal(fetch(url, delivery), 'refused_address', /"rebind\.example\.com" resolves to 127\.0\.0\.1, a loopback address/);
  assert.equal(received.length, 0);
});

test('guarded fetch: a name that resolves to an allowed address is delivered through the checked lookup', async () => {
  received.length = 0;
  const lookup = fakeDns({ 'hooks.internal': ['127.0.0.1'] });
  const fetch = createGuardedFetch({ allow: createAllowList(['hooks.internal']), lookup, timeoutMs: 2_000 });
  assert.equal((await fetch(`http://hooks.internal:${port}/cb`, delivery)).status, 202);
  assert.deepEqual(lookup.calls, ['hooks.internal']);
  assert.equal(received[0]?.headers.host, `hooks.internal:${port}`);
});

test('guarded fetch: resolution and connection failures are network errors; bad URLs invalid_url', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  const fetch = createGuardedFetch({ allow: createAllowList(['127.0.0.1']), lookup: fakeDns({}), timeoutMs: 2_000 });
  await refusal(fetch(`http://127.0.0.1:${closedPort}/cb`, delivery), 'network', /ECONNREFUSED/);
  await refusal(fetch('http://missing.example.com/cb', delivery), 'network', /"missing\.example\.com" failed: getaddrinfo ENOTFOUND/);
  await refusal(fetch('ftp://127.0.0.1/cb', delivery), 'invalid_url', /http or https/);
});
