/**
 * JSON request bodies: the depth limit of json-depth.ts is checked on the raw text before
 * anything parses it, so an absurdly nested body is a 400 naming where, not a RangeError (500)
 * further on. Parsing itself stays Fastify's, with its __proto__ / constructor poisoning checks.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';
import { findExcessiveNesting, MAX_JSON_DEPTH } from '../json-depth.ts';

export function assertJsonDepth(text: string): void {
  const pointer = findExcessiveNesting(text, MAX_JSON_DEPTH);
  if (pointer === null) return;
  const path = `body${pointer}`;
  const message = `nested deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`;
  throw new AppError('VALIDATION_FAILED', `invalid request: ${path}: ${message}`, { details: [{ path, message }] });
}

/** Replaces the application/json parser of `app` (and the scopes it registers afterwards). */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  // A parser that throws is answered through the error handler, like one that calls done(error).
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    assertJsonDepth(body as string);
    parse(request, body as string, done);
  });
}

/**
 * A webhook's raw body, checked only if it can nest at all: form fields (Asterisk's dialplan) are
 * flat strings, and a JSON text nests only if it starts with an object or an array.
 */
export function assertWebhookBodyDepth(body: Buffer, contentType: string | undefined): void {
  if (/^\s*application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType ?? '')) return;
  const text = body.toString('utf8');
  if (/^\uFEFF?\s*[[{]/.test(text)) assertJsonDepth(text);
}
