import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, requestHash } from '../../src/tasks/request-hash.ts';

test('the same JSON value has the same hash whatever its key order', () => {
  assert.equal(requestHash({ runner: 'a', input: { x: 1, y: [1, { b: 2, a: 1 }] } }), requestHash({ input: { y: [1, { a: 1, b: 2 }], x: 1 }, runner: 'a' }));
  assert.equal(canonicalJson({ b: [true, null, 'é'], a: 1.5 }), '{"a":1.5,"b":[true,null,"é"]}');
});

test('any difference in value changes the hash', () => {
  const base = requestHash({ runner: 'a', input: { x: 1 } });
  for (const other of [{ runner: 'a', input: { x: 2 } }, { runner: 'b', input: { x: 1 } }, { runner: 'a', input: { x: 1 }, priority: 1 }, { runner: 'a', input: [{ x: 1 }] }]) {
    assert.notEqual(requestHash(other), base, JSON.stringify(other));
  }
});

test('an absent field and an undefined one are the same request', () => {
  assert.equal(requestHash({ runner: 'a', input: undefined }), requestHash({ runner: 'a' }));
});
