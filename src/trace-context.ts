/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` header. Berth keeps
 * a task's as it was submitted and hands it on (to the container as TRACEPARENT, on callbacks); it
 * takes part in no trace itself. Per the spec an invalid header is ignored, never an error.
 */

// version 00: 2-hex version, 32-hex trace id, 16-hex parent id, 2-hex flags; lower case only.
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ALL_ZERO = /^0+$/;

/**
 * The header's value if it is a valid version-00 traceparent (a trace id and a parent id that are
 * not all zeros), else undefined. Several values (a repeated header) are ambiguous: ignored.
 */
export function parseTraceparent(header: string | readonly string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  const match = TRACEPARENT.exec(value);
  if (match === null || ALL_ZERO.test(match[1]!) || ALL_ZERO.test(match[2]!)) return undefined;
  return value;
}

/** The trace id of a valid traceparent, for log lines. */
export function traceIdOf(traceparent: string): string {
  return traceparent.slice(3, 35);
}
