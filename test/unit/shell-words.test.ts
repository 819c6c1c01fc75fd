import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitShellWords } from '../../src/runners/shell-words.ts';

function words(command: string): string[] {
  const result = splitShellWords(command);
  if ('error' in result) return assert.fail(`unexpected error: ${result.error}`);
  return result.words;
}

test('splits on unquoted blanks, collapsing runs of them', () => {
  assert.deepEqual(words('python -m jira_processor'), ['python', '-m', 'jira_processor']);
  assert.deepEqual(words('  a \t b\n c  '), ['a', 'b', 'c']);
  assert.deepEqual(words(''), []);
  assert.deepEqual(words(' \t\n'), []);
});

test('single quotes keep everything literally', () => {
  assert.deepEqual(words(`sh -c 'echo "$HOME" \\n; exit 3'`), ['sh', '-c', 'echo "$HOME" \\n; exit 3']);
  assert.deepEqual(words(`'a b'c'd'`), ['a bcd']);
});

test('double quotes honour only \\" \\\\ \\$ \\` and line continuations', () => {
  assert.deepEqual(words(String.raw`echo "say \"hi\" \\ \$x \`y\` \n"`), ['echo', 'say "hi" \\ $x `y` \\n']);
  assert.deepEqual(words('"a\\\nb"'), ['ab']);
  assert.deepEqual(words(`"it's"`), [`it's`]);
});

test('an unquoted backslash escapes the next character', () => {
  assert.deepEqual(words(String.raw`a\ b c\"d \'e\\`), ['a b', 'c"d', "'e\\"]);
  assert.deepEqual(words('one \\\ntwo'), ['one', 'two']);
});

test('empty quotes make an empty word', () => {
  assert.deepEqual(words(`cmd '' "" x`), ['cmd', '', '', 'x']);
});

test('nothing is expanded and operators are ordinary characters', () => {
  assert.deepEqual(words('echo $HOME ~ *.txt `id` a|b; c && d > e # not a comment'), [
    'echo', '$HOME', '~', '*.txt', '`id`', 'a|b;', 'c', '&&', 'd', '>', 'e', '#', 'not', 'a', 'comment',
  ]);
});

test('unterminated quotes and a trailing backslash are errors', () => {
  assert.deepEqual(splitShellWords(`python 'oops`), { error: 'unterminated single quote at offset 7' });
  assert.deepEqual(splitShellWords(`a "b\\"`), { error: 'unterminated double quote at offset 2' });
  assert.deepEqual(splitShellWords('a b\\'), { error: 'command ends with a lone backslash' });
});
