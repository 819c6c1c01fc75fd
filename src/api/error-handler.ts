/**
 * The one place errors become responses: `{statusCode, code, message, details?}`.
 * 4xx are the client's business and logged at info; 5xx are ours, logged at error once, here, and
 * answered with an opaque message.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '../db.ts';
import { isAppError, type ErrorDetail, type ErrorResponse } from '../errors.ts';

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
  schemaPath?: string;
}


export function toErrorResponse(error: unknown): ErrorResponse {
  if (isAppError(error)) {
    const body: ErrorResponse = { statusCode: error.statusCode, code: error.code, message: error.message };
    if (error.details !== undefined) body.details = [...error.details];
    return body;
  }
  const e = error as Partial<FastifyError> & { validation?: AjvError[]; validationContext?: string };
  if (Array.isArray(e.validation)) {
    const details = collapseLiteralChoices(e.validation).map((v) => validationDetail(v, e.validationContext ?? 'body'));
    return {
      statusCode: 400,
      code: 'VALIDATION_FAILED',
      message: `invalid request: ${details.map((d) => `${d.path}: ${d.message}`).join('; ')}`,
      details,
    };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { statusCode: 400, code: 'MALFORMED_JSON', message: `malformed JSON body: ${e.message ?? ''}` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { statusCode: 413, code: 'BODY_TOO_LARGE', message: 'request body is larger than the configured limit (BERTH_BODY_LIMIT)' };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'unsupported content type; send application/json' };
    // The path is not repeated: it is the client's own, and may be long.
    case 'FST_ERR_BAD_URL':
      return { statusCode: 400, code: 'MALFORMED_URL', message: 'the URL path is not valid (a malformed percent-encoding)' };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return { statusCode: 414, code: 'URL_SEGMENT_TOO_LONG', message: 'a segment of the URL path is longer than 100 characters' };
  }
  if (isDatabaseUnavailable(error)) {
    return { statusCode: 503, code: 'DATABASE_UNAVAILABLE', message: 'the database is unavailable; try again shortly' };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { statusCode: e.statusCode, code: e.code ?? 'BAD_REQUEST', message: e.message ?? 'bad request' };
  }
  return { statusCode: 500, code: 'INTERNAL', message: 'internal server error' };
}

/**
 * Ajv reports a value outside a union of literals (a status, say) as one "must be equal to
 * constant" per literal, then "must match a schema in anyOf". Said once instead: the values it may take.
 */
function collapseLiteralChoices(errors: readonly AjvError[]): AjvError[] {
  const result: AjvError[] = [];
  for (const error of errors) {
    const branches = `${error.schemaPath ?? ''}/`;
    const isBranch = (e: AjvError): boolean => e.instancePath === error.instancePath && (e.schemaPath ?? '').startsWith(branches);
    const own = result.filter(isBranch);
    if (error.keyword !== 'anyOf' || own.length === 0 || own.some((e) => e.keyword !== 'const')) {
      result.push(error);
      continue;
    }
    const allowed = own.map((e) => String(e.params['allowedValue']));
    result.splice(0, result.length, ...result.filter((e) => !isBranch(e)));
    result.push({ instancePath: error.instancePath, keyword: 'enum', params: {}, message: `must be one of ${allowed.join(', ')}` });
  }
  return result;
}

function validationDetail(v: AjvError, context: string): ErrorDetail {
  const path = `${context}${v.instancePath}`;
  if (v.keyword === 'additionalProperties') {
    return { path: `${path}/${String(v.params['additionalProperty'])}`, message: 'unknown field' };
  }
  if (v.keyword === 'required') {
    return { path: `${path}/${String(v.params['missingProperty'])}`, message: 'is required' };
  }
  return { path, message: v.message ?? v.keyword };
}

export function errorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const body = toErrorResponse(error);
  if (body.statusCode >= 500) request.log.error({ err: error }, 'request failed');
  else request.log.info({ code: body.code, message: body.message }, 'request rejected');
  if (body.statusCode === 401) void reply.header('www-authenticate', 'Bearer realm="berth"');
  if (isAppError(error) && error.retryAfterSeconds !== undefined) void reply.header('retry-after', String(Math.max(1, Math.ceil(error.retryAfterSeconds))));
  void reply.status(body.statusCode).type('application/json').send(body);
}
