import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findExcessiveNesting, MAX_JSON_DEPTH } from '../../src/json-depth.ts';

const nested = (levels: number): string => '['.repeat(levels) + ']'.repeat(levels);

test('the body itself is level 1: a document exactly at the limit passes, one level more does not', () => {
  assert.equal(findExcessiveNesting(nested(MAX_JSON_DEPTH)), null);
  assert.equal(findExcessiveNesting(nested(MAX_JSON_DEPTH + 1)), `/${Array(MAX_JSON_DEPTH).fill('0').join('/')}`);
  assert.equal(findExcessiveNesting('{"a":{"b":[]}}', 3), null);
  assert.equal(findExcessiveNesting('{"a":{"b":[{}]}}', 3), '/a/b/0');
  assert.equal(findExcessiveNesting('[]', 0), '');
  assert.equal(findExcessiveNesting('"just a string"', 0), null);
});

test('the path names keys and indexes, found at any position', () => {
  const text = '{"runner":"echo","tasks":[{"input":1},{"x":[1,2],"input":{"deep":[[[]]]}}]}';
  assert.equal(findExcessiveNesting(text, 6), '/tasks/1/input/deep/0/0');
  assert.equal(findExcessiveNesting(text, 7), null);
});

test('brackets inside strings do not count, escaped quotes do not end a string', () => {
  assert.equal(findExcessiveNesting(JSON.stringify({ s: '[[[[{{{{' }), 1), null);
  assert.equal(findExcessiveNesting(JSON.stringify({ s: 'a"[[[[\\"[[[' }), 1), null);
  assert.equal(findExcessiveNesting(JSON.stringify({ 'k"[': [[]] }), 2), '/k"[/0');
  assert.equal(findExcessiveNesting(JSON.stringify({ 'a/b~c': { 'k\\': [] } }), 2), '/a~1b~0c/k\\');
});

test('a key in the path is shortened, never copied whole', () => {
  const key = 'k'.repeat(10_000);
  assert.equal(findExcessiveNesting(JSON.stringify({ [key]: [] }), 1), `/${'k'.repeat(40)}…`);
});

test('text that is not JSON is left to the parser: no throw, no false alarm', () => {
  for (const text of ['', '{', '"unterminated [[[[', ']]]]', '{"a":[}', 'not json at all']) {
    assert.equal(findExcessiveNesting(text, 2), null, text);
  }
});

test('200,000 levels are found without recursion', () => {
  const text = `{"runner":"echo","input":${nested(200_000)}}`;
  const pointer = findExcessiveNesting(text);
  assert.ok(pointer?.startsWith('/input/0/0/'), pointer ?? 'null');
  assert.equal(pointer?.split('/').length, MAX_JSON_DEPTH + 1);
});
