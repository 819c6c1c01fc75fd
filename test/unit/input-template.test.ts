import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inputTemplate } from '../../src/ui/input-template.ts';

test('no schema, or one it does not understand, gives null', () => {
  assert.equal(inputTemplate(null), null);
  assert.equal(inputTemplate({ anyOf: [{ type: 'string' }] }), null);
  assert.equal(inputTemplate({ $ref: '#/x' }), null);
});

test('an object gets its required properties, each filled by its type', () => {
  const schema = {
    type: 'object', required: ['name', 'count', 'tags', 'flag', 'nested'],
    properties: {
      name: { type: 'string' }, count: { type: 'integer', minimum: 1 }, tags: { type: 'array' }, flag: { type: 'boolean' },
      nested: { type: 'object', properties: { level: { enum: ['low', 'high'] } } }, optional: { type: 'string' },
    },
  };
  assert.deepEqual(inputTemplate(schema), { name: '', count: 1, tags: [], flag: false, nested: { level: 'low' } });
});

test('default, const and examples win over the type; a nullable type takes its other type', () => {
  assert.deepEqual(inputTemplate({ type: 'object', default: { a: 1 } }), { a: 1 });
  assert.equal(inputTemplate({ const: 'x' }), 'x');
  assert.deepEqual(inputTemplate({ type: 'string', examples: ['hello'] }), 'hello');
  assert.equal(inputTemplate({ type: ['null', 'number'] }), 0);
});

test('a deep or self-similar schema stops filling after a few levels', () => {
  const deep: Record<string, unknown> = { type: 'string' };
  let schema: Record<string, unknown> = deep;
  for (let i = 0; i < 10; i++) schema = { type: 'object', properties: { next: schema } };
  let value = inputTemplate(schema) as Record<string, unknown> | null;
  let depth = 0;
  while (value !== null && typeof value === 'object') { value = value['next'] as Record<string, unknown> | null; depth++; }
  assert.ok(depth <= 6, `filled ${depth} levels`);
});
