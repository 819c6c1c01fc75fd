import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isJsonPointer, mapInput } from '../../src/json-pointer.ts';
import { jiraEvent, parseAsteriskBody, parseJsonBody } from '../../src/webhooks/payloads.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
const curlBody = fixture('asterisk-dialplan-curl.txt');

function value<T>(result: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!result.ok) return assert.fail(`unexpected failure: ${result.message}`);
  return result.value;
}

function failure(result: { ok: true; value: unknown } | { ok: false; message: string }): string {
  if (result.ok) return assert.fail(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.message;
}

test('Asterisk: a CURL() body without Content-Type is read as form-encoded', () => {
  const fields = value(parseAsteriskBody(curlBody, undefined, {}));
  assert.equal(fields['callerid_name'], 'Mary O\'Brien "Front Desk"');
  assert.equal(fields['callerid_num'], '+15555550123');
  assert.equal(fields['channel'], 'PJSIP/provider-trunk-0000002a');
  assert.equal(fields['uniqueid'], '1718035200.1234');
  assert.deepEqual(fields['queue'], ['support', 'escalations'], 'a repeated key becomes an array');
  assert.deepEqual(value(parseAsteriskBody(curlBody, '', {})), fields);
  assert.deepEqual(value(parseAsteriskBody(curlBody, 'application/x-www-form-urlencoded; charset=UTF-8', {})), fields);
});

test('Asterisk: unencoded spaces and quotes, "+" as space, and UTF-8 escapes in a form', () => {
  const raw = Buffer.from(`callerid_name=Jos%C3%A9 "Pepe" O'Neil&note=a+b&empty=&flag`);
  assert.deepEqual(value(parseAsteriskBody(raw, undefined, {})), {
    callerid_name: `José "Pepe" O'Neil`, note: 'a b', empty: '', flag: '',
  });
});

test('Asterisk: query parameters are merged in, except token; the body wins a conflict', () => {
  const query = { token: 'hunter2', source: 'pbx-1', event: 'from-query', tags: ['a', 'b'], absent: undefined };
  const fields = value(parseAsteriskBody(curlBody, undefined, query));
  assert.equal(fields['event'], 'hangup');
  assert.equal(fields['source'], 'pbx-1');
  assert.deepEqual(fields['tags'], ['a', 'b']);
  assert.equal('token' in fields, false);
  assert.equal('absent' in fields, false);
});

test('Asterisk: an empty body is no fields', () => {
  assert.deepEqual(value(parseAsteriskBody(Buffer.alloc(0), undefined, {})), {});
  assert.deepEqual(value(parseAsteriskBody(Buffer.alloc(0), 'application/json', {})), {});
  assert.deepEqual(value(parseAsteriskBody(Buffer.alloc(0), undefined, { token: 't', exten: '100' })), { exten: '100' });
});

test('Asterisk: JSON from ARI, including +json media types', () => {
  const body = Buffer.from(JSON.stringify({ type: 'StasisStart', channel: { id: '1718035200.77', caller: { name: 'Ann', number: '100' } } }));
  const fields = value(parseAsteriskBody(body, 'application/json; charset=utf-8', { app: 'berth' }));
  assert.deepEqual(fields, { app: 'berth', type: 'StasisStart', channel: { id: '1718035200.77', caller: { name: 'Ann', number: '100' } } });
  assert.deepEqual(value(parseAsteriskBody(Buffer.from('{"a":1}'), 'application/vnd.ari+json', {})), { a: 1 });
});

test('Asterisk: JSON that is not an object is wrapped under "body"', () => {
  assert.deepEqual(value(parseAsteriskBody(Buffer.from('[1,2]'), 'application/json', { x: '1' })), { x: '1', body: [1, 2] });
  assert.deepEqual(value(parseAsteriskBody(Buffer.from('"hello"'), 'application/json', {})), { body: 'hello' });
  assert.deepEqual(value(parseAsteriskBody(Buffer.from('null'), 'application/json', {})), { body: null });
});

test('Asterisk: JSON broken by a raw control character in caller id is refused, not thrown', () => {
  // What QUOTE() produces for a caller name containing a tab and a newline.
  const body = Buffer.from('{"callerid_name":"ACME\tSupport\nLine","callerid_num":"100"}');
  const message = failure(parseAsteriskBody(body, 'application/json', {}));
  assert.match(message, /not valid JSON/);
  assert.match(message, /control character/i);
});

test('Asterisk: other content types are refused by name', () => {
  for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml']) {
    const message = failure(parseAsteriskBody(curlBody, type, {}));
    assert.match(message, /unsupported content type/);
    assert.ok(message.includes(type), message);
  }
});

test('a key named __proto__ stays an ordinary field', () => {
  const form = value(parseAsteriskBody(Buffer.from('__proto__=x&a=1'), undefined, { constructor: 'c' }));
  assert.equal(Object.getPrototypeOf(form), Object.prototype);
  assert.equal(Object.hasOwn(form, '__proto__'), true);
  assert.equal(form['constructor'], 'c');
  const json = value(parseAsteriskBody(Buffer.from('{"__proto__":{"polluted":true}}'), 'application/json', {}));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.equal(Object.hasOwn(json, '__proto__'), true);
});

test('parseJsonBody: UTF-8 with or without BOM; invalid UTF-8, empty and broken JSON refused', () => {
  assert.deepEqual(value(parseJsonBody(Buffer.from('{"name":"Zoë"}'))), { name: 'Zoë' });
  assert.deepEqual(value(parseJsonBody(Buffer.from('\uFEFF{"a":1}'))), { a: 1 });
  assert.deepEqual(value(parseJsonBody(Buffer.from('  [true] \n'))), [true]);
  assert.match(failure(parseJsonBody(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))), /UTF-8/);
  assert.match(failure(parseJsonBody(Buffer.alloc(0))), /empty/);
  assert.match(failure(parseJsonBody(Buffer.from(' \n'))), /empty/);
  assert.match(failure(parseJsonBody(Buffer.from('{"a":'))), /not valid JSON/);
  assert.match(failure(parseJsonBody(Buffer.from("{'a':1}"))), /not valid JSON/);
});

test('jiraEvent reads webhookEvent from the fixtures', () => {
  const created: unknown = JSON.parse(fixture('jira-issue-created.json').toString('utf8'));
  const updated: unknown = JSON.parse(fixture('jira-issue-updated.json').toString('utf8'));
  assert.equal(jiraEvent(created), 'jira:issue_created');
  assert.equal(jiraEvent(updated), 'jira:issue_updated');
  for (const payload of [null, 'jira:issue_created', [], {}, { webhookEvent: 7 }]) assert.equal(jiraEvent(payload), undefined);
});

test('mapInput: no mapping means the whole payload', () => {
  const payload = { a: 1 };
  assert.equal(mapInput(payload, undefined), payload);
});

test('mapInput: JSON Pointers select from a Jira payload; missing paths are null', () => {
  const updated: unknown = JSON.parse(fixture('jira-issue-updated.json').toString('utf8'));
  const input = mapInput(updated, {
    key: '/issue/key',
    summary: '/issue/fields/summary',
    firstLabel: '/issue/fields/labels/0',
    newStatus: '/changelog/items/0/toString',
    oldAssignee: '/changelog/items/1/from',
    thirdLabel: '/issue/fields/labels/2',
    dueDate: '/issue/fields/duedate',
    deep: '/issue/fields/summary/length',
    project: '/issue/fields/project',
  });
  assert.deepEqual(input, {
    key: 'OPS-42',
    summary: 'Nightly backup of db-7 failed: "disk full"',
    firstLabel: 'backup',
    newStatus: 'In Progress',
    oldAssignee: null,
    thirdLabel: null,
    dueDate: null,
    deep: null,
    project: { self: 'https://example.atlassian.net/rest/api/2/project/10000', id: '10000', key: 'OPS', name: 'Operations' },
  });
});

test('mapInput: ~0 and ~1 escapes, empty keys, array index rules, own properties only', () => {
  const payload = { 'a/b': { 'm~n': 1 }, '': { '': 'empty' }, '~1': 'literal', list: ['x', 'y'], '01': 'zero-one' };
  assert.deepEqual(
    mapInput(payload, {
      slash: '/a~1b/m~0n', empty: '//', literal: '/~01', whole: '', idx: '/list/1', leadingZero: '/list/01',
      dash: '/list/-', negative: '/list/-1', proto: '/constructor', protoDeep: '/list/length', keyZero: '/01',
    }),
    {
      slash: 1, empty: 'empty', literal: 'literal', whole: payload, idx: 'y', leadingZero: null,
      dash: null, negative: null, proto: null, protoDeep: null, keyZero: 'zero-one',
    },
  );
  assert.deepEqual(mapInput('scalar', { a: '/a', all: '' }), { a: null, all: 'scalar' });
  assert.throws(() => mapInput(payload, { bad: 'issue/key' }), /JSON Pointer/);
});

test('isJsonPointer', () => {
  for (const ok of ['', '/', '/issue/fields/summary', '/a~0b~1c', '//', '/0', '/ spaces ok']) assert.equal(isJsonPointer(ok), true, ok);
  for (const bad of ['issue', '#/issue', '/a~2', '/a~', '~1', 'a/b']) assert.equal(isJsonPointer(bad), false, bad);
});
