import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expand } from '../../src/runners/env-interpolation.ts';

const env = { API_TOKEN: 's3cret', EMPTY: '', HOST: 'db', PORT: '5432', unset: undefined };

test('text without references is unchanged', () => {
  assert.deepEqual(expand('plain text, {braces} and } too', env), { value: 'plain text, {braces} and } too' });
  assert.deepEqual(expand('', env), { value: '' });
});

test('${VAR} is replaced by the variable, an empty one included', () => {
  assert.deepEqual(expand('${API_TOKEN}', env), { value: 's3cret' });
  assert.deepEqual(expand('postgres://${HOST}:${PORT}/x', env), { value: 'postgres://db:5432/x' });
  assert.deepEqual(expand('[${EMPTY}]', env), { value: '[]' });
});

test('${VAR:-default} uses the default when the variable is unset or empty', () => {
  assert.deepEqual(expand('${HOST:-localhost}', env), { value: 'db' });
  assert.deepEqual(expand('${MISSING:-localhost}', env), { value: 'localhost' });
  assert.deepEqual(expand('${unset:-x}', env), { value: 'x' });
  assert.deepEqual(expand('${EMPTY:-fallback}', env), { value: 'fallback' });
  assert.deepEqual(expand('${MISSING:-}', env), { value: '' });
  assert.deepEqual(expand('${MISSING:-a b: {c}', env), { value: 'a b: {c' });
});

test('defaults are interpolated, and their unset variables only matter when used', () => {
  assert.deepEqual(expand('${MISSING:-${HOST}:${PORT}}', env), { value: 'db:5432' });
  assert.deepEqual(expand('${HOST:-${MISSING}}', env), { value: 'db' });
  assert.deepEqual(expand('${MISSING:-${ALSO_MISSING}}', env), { error: 'variable ALSO_MISSING is not set' });
  assert.deepEqual(expand('${MISSING:-$$5}', env), { value: '$5' });
});

test('$$ is a literal $', () => {
  assert.deepEqual(expand('pa$$word $${HOST} $$$$', env), { value: 'pa$word ${HOST} $$' });
});

test('an unset variable without default is an error naming it', () => {
  assert.deepEqual(expand('Bearer ${API_TOKEN_2}', env), { error: 'variable API_TOKEN_2 is not set' });
  assert.deepEqual(expand('${unset}', env), { error: 'variable unset is not set' });
  assert.deepEqual(expand('${A}${B}${A}', env), { error: 'variables A, B are not set' });
});

test('malformed references are errors, never literal text', () => {
  const cases: [string, string][] = [
    ['$HOST', '"$" at offset 0 must start ${VAR} or ${VAR:-default}; write $$ for a literal "$"'],
    ['price: 5$', '"$" at offset 8 must start ${VAR} or ${VAR:-default}; write $$ for a literal "$"'],
    ['${HOST', 'unterminated "${" reference: missing "}"'],
    ['${MISSING:-abc', 'unterminated "${" reference: missing "}"'],
    ['x${}', 'expected a variable name after "${" at offset 1'],
    ['${1X}', 'expected a variable name after "${" at offset 0'],
    ['${HOST-x}', 'unsupported reference at offset 0: use ${HOST} or ${HOST:-default}'],
    ['${HOST:?err}', 'unsupported reference at offset 0: use ${HOST} or ${HOST:-default}'],
    ['${HOST:+alt}', 'unsupported reference at offset 0: use ${HOST} or ${HOST:-default}'],
    ['${MISSING:-$x}', '"$" at offset 11 must start ${VAR} or ${VAR:-default}; write $$ for a literal "$"'],
  ];
  for (const [value, error] of cases) assert.deepEqual(expand(value, env), { error }, value);
});

test('a syntax error wins over unset variables', () => {
  assert.deepEqual(expand('${MISSING} $oops', env), {
    error: '"$" at offset 11 must start ${VAR} or ${VAR:-default}; write $$ for a literal "$"',
  });
});
