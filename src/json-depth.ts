/**
 * How deeply a JSON request body may nest, checked on the raw text before it is parsed.
 *
 * Why a limit: JSON.parse copes with any depth, but everything after it walks values recursively
 * (JSON.stringify when a task is stored, the idempotency fingerprint, Ajv on a runner's
 * input_schema, the worker handing the input to the container) and overflows the stack at a few
 * thousand levels — a RangeError, answered as a 500. Why 64: real payloads stay far below it (a
 * Jira issue event nests about 7 deep), and it leaves every recursive walk downstream a wide margin.
 *
 * Depth counts objects and arrays: the body itself is level 1, so `{"input":[[]]}` is 3 deep.
 * The scan is one linear pass that counts brackets outside strings; it does not validate. Text
 * that is not JSON is left to the parser to reject (an unterminated string simply ends the scan).
 */
export const MAX_JSON_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Longest object key quoted in a reported path; the path names a place, it need not copy the body. */
const MAX_KEY_CHARS = 40;

/**
 * The JSON Pointer (RFC 6901) of the first object or array nested deeper than `maxDepth`, e.g.
 * `/input/0/0`; `''` when the body itself is too deep (maxDepth 0); null when within the limit.
 */
export function findExcessiveNesting(text: string, maxDepth: number = MAX_JSON_DEPTH): string | null {
  // Per open container, indexed by its depth - 1: whether it is an array, the index of the
  // current element (arrays) or where the current key's string starts and ends (objects).
  const isArray: boolean[] = [];
  const index: number[] = [];
  const keyStart: number[] = [];
  const keyEnd: number[] = [];
  let depth = 0;
  let expectingKey = false;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (expectingKey) {
        keyStart[depth - 1] = i;
        keyEnd[depth - 1] = end;
        expectingKey = false;
      }
      i = end;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth >= maxDepth) return pointerTo(text, depth, isArray, index, keyStart, keyEnd);
      isArray[depth] = c === OPEN_BRACKET;
      index[depth] = 0;
      keyStart[depth] = -1;
      depth += 1;
      expectingKey = c === OPEN_BRACE;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      if (depth > 0) depth -= 1;
      expectingKey = false;
    } else if (c === COMMA && depth > 0) {
      if (isArray[depth - 1]) index[depth - 1]! += 1;
      else expectingKey = true;
    }
  }
  return null;
}

/** Index of the quote closing the string opened at `start` (or the text's end if none does). */
function closingQuote(text: string, start: number): number {
  let at = start + 1;
  for (;;) {
    at = text.indexOf('"', at);
    if (at < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return at;
    at += 1;
  }
}

function pointerTo(
  text: string, depth: number, isArray: readonly boolean[], index: readonly number[], keyStart: readonly number[], keyEnd: readonly number[],
): string {
  let pointer = '';
  for (let level = 0; level < depth; level++) {
    const token = isArray[level] ? String(index[level]) : keyText(text, keyStart[level]!, keyEnd[level]!);
    pointer += `/${token.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  return pointer;
}

function keyText(text: string, start: number, end: number): string {
  if (start < 0) return '';
  let key: string;
  try {
    key = JSON.parse(text.slice(start, end + 1)) as string;
  } catch {
    key = text.slice(start + 1, end);
  }
  return key.length > MAX_KEY_CHARS ? `${key.slice(0, MAX_KEY_CHARS)}…` : key;
}
