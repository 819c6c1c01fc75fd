/**
 * RFC 6901 JSON Pointers into JSON documents, and input maps built from them: a webhook's
 * `input:` selects task input from its payload this way, and a workflow step's from its envelope.
 */
/** True for an RFC 6901 JSON Pointer: "" (the whole document) or "/"-separated reference tokens
 *  in which "~" only appears as the escapes "~0" and "~1". */
export function isJsonPointer(s: string): boolean {
  return s === '' || /^(\/([^~]|~[01])*)+$/.test(s);
}

/** The unescaped reference tokens of a JSON Pointer: "/a~1b/c" → ['a/b', 'c']; "" → []. */
export function pointerTokens(pointer: string): string[] {
  if (pointer === '') return [];
  // "~1" first, then "~0": the other order would turn "~01" into "/" instead of "~1".
  return pointer.slice(1).split('/').map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

const MISSING = Symbol('missing');
const ARRAY_INDEX = /^(0|[1-9]\d*)$/;

function resolvePointer(document: unknown, pointer: string): unknown {
  if (!isJsonPointer(pointer)) throw new Error(`"${pointer}" is not a JSON Pointer (RFC 6901): it must be empty or start with "/"`);
  let current: unknown = document;
  for (const token of pointerTokens(pointer)) {
    if (Array.isArray(current)) {
      current = ARRAY_INDEX.test(token) && Number(token) < current.length ? current[Number(token)] : MISSING;
    } else if (isObject(current)) {
      // Own properties only: "/constructor" must not reach Object.prototype.
      current = Object.hasOwn(current, token) ? current[token] : MISSING;
    } else {
      current = MISSING;
    }
    if (current === MISSING) return MISSING;
  }
  return current;
}

/** What `pointer` selects in `document`; found is false when nothing is there. */
export function selectPointer(document: unknown, pointer: string): { found: boolean; value: unknown } {
  const value = resolvePointer(document, pointer);
  return value === MISSING || value === undefined ? { found: false, value: undefined } : { found: true, value };
}

/**
 * The task input for a webhook payload. Without a mapping the whole payload is the input. With
 * one, the input is an object with exactly the mapping's keys, each set to what its JSON Pointer
 * selects in the payload, or `null` when nothing is there (so the runner sees a stable shape).
 * Pointers are validated with `isJsonPointer` when config is loaded; an invalid one here throws.
 */
export function mapInput(payload: unknown, mapping: Readonly<Record<string, string>> | undefined): unknown {
  if (mapping === undefined) return payload;
  return Object.fromEntries(
    Object.entries(mapping).map(([key, pointer]) => {
      const value = resolvePointer(payload, pointer);
      return [key, value === MISSING || value === undefined ? null : value];
    }),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
