/**
 * The W3C `traceparent` request header of the submitting routes: documented once, read once. An
 * invalid value is ignored (the spec's rule), so the schema checks nothing and trace-context.ts decides.
 */
import { Type } from 'typebox';
import { parseTraceparent } from '../trace-context.ts';

export const TraceparentHeader = Type.Optional(Type.String({
  description: 'W3C trace context (`00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`): kept on what is created, ' +
    'passed to its containers as TRACEPARENT and sent on its callbacks. An invalid value is ignored.',
}));

/** The submission option carrying the request's traceparent, when it has a valid one. */
export function traceOption(headers: { readonly traceparent?: string | string[] | undefined }): { traceparent?: string } {
  const traceparent = parseTraceparent(headers.traceparent);
  return traceparent === undefined ? {} : { traceparent };
}
