/**
 * `${VAR}` references in runner env values, resolved against an environment passed in by the
 * caller (never process.env here), so that secrets can stay out of the runners file.
 *
 * Grammar: `${NAME}` is the variable (an error when unset), `${NAME:-default}` is the variable
 * unless it is unset or empty, `$$` is a literal `$`. The default is itself interpolated, so
 * `${A:-${B}}` works. Any other `$` is an error rather than literal text: a password containing
 * `$x` must be written `$$x`, and a mistyped `$VAR` (no braces) is caught instead of passed on
 * verbatim. Forms such as `${A-b}`, `${A:?err}` or `${A:+alt}` are refused for the same reason.
 */

export type Env = Readonly<Record<string, string | undefined>>;
export type ExpandResult = { readonly value: string } | { readonly error: string };

const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

interface Cursor {
  readonly source: string;
  readonly env: Env;
  pos: number;
}

/** Text plus the unset variables it needed; `missing` is empty when the text is usable. */
type Expansion = { readonly text: string; readonly missing: readonly string[] } | { readonly error: string };

export function expand(value: string, env: Env): ExpandResult {
  const cursor: Cursor = { source: value, env, pos: 0 };
  const result = readText(cursor, false);
  if ('error' in result) return result;
  const missing = [...new Set(result.missing)];
  if (missing.length === 1) return { error: `variable ${missing[0]} is not set` };
  if (missing.length > 1) return { error: `variables ${missing.join(', ')} are not set` };
  return { value: result.text };
}

/** Reads up to the end of the input, or up to the `}` closing a default when `inDefault`. */
function readText(cursor: Cursor, inDefault: boolean): Expansion {
  let text = '';
  const missing: string[] = [];
  const { source } = cursor;
  while (cursor.pos < source.length) {
    const char = source[cursor.pos] as string;
    if (char === '}' && inDefault) return { text, missing };
    if (char !== '$') {
      text += char;
      cursor.pos += 1;
      continue;
    }
    const next = source[cursor.pos + 1];
    if (next === '$') {
      text += '$';
      cursor.pos += 2;
    } else if (next === '{') {
      const reference = readReference(cursor);
      if ('error' in reference) return reference;
      text += reference.text;
      missing.push(...reference.missing);
    } else {
      return { error: `"$" at offset ${cursor.pos} must start \${VAR} or \${VAR:-default}; write $$ for a literal "$"` };
    }
  }
  if (inDefault) return { error: 'unterminated "${" reference: missing "}"' };
  return { text, missing };
}

/** Reads `${NAME}` or `${NAME:-default}`; the cursor is on the `$`. */
function readReference(cursor: Cursor): Expansion {
  const start = cursor.pos;
  NAME.lastIndex = start + 2;
  const name = NAME.exec(cursor.source)?.[0];
  if (name === undefined) return { error: `expected a variable name after "\${" at offset ${start}` };
  cursor.pos = start + 2 + name.length;
  const value = cursor.env[name];
  if (cursor.source[cursor.pos] === '}') {
    cursor.pos += 1;
    return value === undefined ? { text: '', missing: [name] } : { text: value, missing: [] };
  }
  if (cursor.pos >= cursor.source.length) return { error: 'unterminated "${" reference: missing "}"' };
  if (!cursor.source.startsWith(':-', cursor.pos)) {
    return { error: `unsupported reference at offset ${start}: use \${${name}} or \${${name}:-default}` };
  }
  cursor.pos += 2;
  const fallback = readText(cursor, true);
  if ('error' in fallback) return fallback;
  cursor.pos += 1; // the closing "}", which readText stopped on
  // The default's own unset variables only matter when the default is used.
  return value === undefined || value === '' ? fallback : { text: value, missing: [] };
}
