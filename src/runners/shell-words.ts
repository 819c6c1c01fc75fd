/**
 * Splits a command written as one string (the classic dispatcher's `command: python -m app`) into
 * argv, with the quoting rules of a POSIX shell, the way docker-compose splits `command:`.
 *
 * Only quoting is interpreted: '…' is literal, "…" honours \" \\ \$ \` and line continuations,
 * and an unquoted backslash escapes the next character. Nothing is expanded ($VAR, `cmd`, globs,
 * ~) and operators (|, ;, &&, >) are ordinary characters, because no shell ever runs this
 * string. As in docker-compose, '#' does not start a comment.
 */

export type SplitResult = { readonly words: string[] } | { readonly error: string };

const BLANK = new Set([' ', '\t', '\n', '\r']);
/** The characters a backslash escapes inside double quotes; before any other it stays literal. */
const DOUBLE_QUOTE_ESCAPABLE = new Set(['"', '\\', '$', '`', '\n']);

export function splitShellWords(command: string): SplitResult {
  const words: string[] = [];
  // `word` is undefined between words, so that '' and "" still produce an (empty) word.
  let word: string | undefined;
  let i = 0;
  while (i < command.length) {
    const char = command[i] as string;
    if (BLANK.has(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      i += 1;
    } else if (char === "'") {
      const end = command.indexOf("'", i + 1);
      if (end === -1) return { error: `unterminated single quote at offset ${i}` };
      word = (word ?? '') + command.slice(i + 1, end);
      i = end + 1;
    } else if (char === '"') {
      const quoted = readDoubleQuoted(command, i);
      if ('error' in quoted) return quoted;
      word = (word ?? '') + quoted.text;
      i = quoted.next;
    } else if (char === '\\') {
      const escaped = command[i + 1];
      if (escaped === undefined) return { error: 'command ends with a lone backslash' };
      // Backslash-newline is a line continuation: both characters disappear.
      if (escaped !== '\n') word = (word ?? '') + escaped;
      i += 2;
    } else {
      word = (word ?? '') + char;
      i += 1;
    }
  }
  if (word !== undefined) words.push(word);
  return { words };
}

/** Reads "…" starting at the opening quote; `next` is the index after the closing quote. */
function readDoubleQuoted(command: string, start: number): { text: string; next: number } | { error: string } {
  let text = '';
  let i = start + 1;
  while (i < command.length) {
    const char = command[i] as string;
    if (char === '"') return { text, next: i + 1 };
    const escaped = command[i + 1];
    if (char === '\\' && escaped !== undefined && DOUBLE_QUOTE_ESCAPABLE.has(escaped)) {
      if (escaped !== '\n') text += escaped;
      i += 2;
    } else {
      text += char;
      i += 1;
    }
  }
  return { error: `unterminated double quote at offset ${start}` };
}
