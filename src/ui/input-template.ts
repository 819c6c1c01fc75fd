/**
 * A starting input for a runner's form, from its input_schema: pure, no DOM (unit-tested in
 * test/unit/input-template.test.ts). Only simple schemas are filled: `default`, `const`, the first
 * of `examples` or `enum`, and by `type` (an object gets its required properties, or all of them
 * when none are required, each filled the same way). Anything it does not understand (combinators,
 * $ref, no type) gives null, which the user edits. It does not promise that the result is valid.
 */

const MAX_DEPTH = 4;

type Schema = Readonly<Record<string, unknown>>;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null && !Array.isArray(value);

export function inputTemplate(schema: unknown, depth = 0): unknown {
  if (!isSchema(schema) || depth > MAX_DEPTH) return null;
  if ('default' in schema) return schema['default'];
  if ('const' in schema) return schema['const'];
  if (Array.isArray(schema['examples']) && schema['examples'].length > 0) return schema['examples'][0];
  if (Array.isArray(schema['enum']) && schema['enum'].length > 0) return schema['enum'][0];
  const type = Array.isArray(schema['type']) ? schema['type'].find((t) => t !== 'null') : schema['type'];
  switch (type) {
    case 'object': return objectTemplate(schema, depth);
    case 'array': return [];
    case 'string': return '';
    case 'integer':
    case 'number': return typeof schema['minimum'] === 'number' ? schema['minimum'] : 0;
    case 'boolean': return false;
    default: return null;
  }
}

function objectTemplate(schema: Schema, depth: number): Record<string, unknown> {
  const properties = isSchema(schema['properties']) ? schema['properties'] : {};
  const required = Array.isArray(schema['required']) ? schema['required'].filter((name): name is string => typeof name === 'string') : [];
  const names = required.length > 0 ? required : Object.keys(properties);
  const result: Record<string, unknown> = {};
  for (const name of names) result[name] = inputTemplate(properties[name], depth + 1);
  return result;
}
