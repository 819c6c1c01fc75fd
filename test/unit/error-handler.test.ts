import assert from 'node:assert/strict';
import { test } from 'node:test';
import { toErrorResponse } from '../../src/api/error-handler.ts';
import { AppError, errorCatalog } from '../../src/errors.ts';

test('every catalog code maps to its status', () => {
  for (const [code, status] of Object.entries(errorCatalog)) {
    const body = toErrorResponse(new AppError(code as keyof typeof errorCatalog, 'm'));
    assert.deepEqual(body, { statusCode: status, code, message: 'm' });
  }
});

test('validation errors name each field', () => {
  const error = Object.assign(new Error('x'), {
    validationContext: 'body',
    validation: [
      { instancePath: '', keyword: 'additionalProperties', params: { additionalProperty: 'extra' }, message: 'must NOT have additional properties' },
      { instancePath: '', keyword: 'required', params: { missingProperty: 'runner' }, message: "must have required property 'runner'" },
      { instancePath: '/runner', keyword: 'type', params: {}, message: 'must be string' },
    ],
  });
  assert.deepEqual(toErrorResponse(error).details, [
    { path: 'body/extra', message: 'unknown field' },
    { path: 'body/runner', message: 'is required' },
    { path: 'body/runner', message: 'must be string' },
  ]);
});

test('database outages are 503, other unknown errors an opaque 500', () => {
  assert.equal(toErrorResponse(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).statusCode, 503);
  assert.deepEqual(toErrorResponse(new Error('secret detail')), { statusCode: 500, code: 'INTERNAL', message: 'internal server error' });
});

test('a token in a URL is masked before it is logged', async () => {
  const { redactUrl } = await import('../../src/logger.ts');
  assert.equal(redactUrl('/webhooks/calls?exten=1&token=s3cret&x=2'), '/webhooks/calls?exten=1&token=[redacted]&x=2');
  assert.equal(redactUrl('/webhooks/calls?TOKEN=s3cret'), '/webhooks/calls?TOKEN=[redacted]');
  assert.equal(redactUrl('/tasks?mytoken=keep'), '/tasks?mytoken=keep');
});

test('a value outside a list of literals is one detail naming the values it may take', async () => {
  const { createValidatorCompiler } = await import('../../src/api/validator-compiler.ts');
  const { TaskListQuery } = await import('../../src/tasks/task-schemas.ts');
  const validate = createValidatorCompiler()({ schema: TaskListQuery, httpPart: 'querystring', method: 'GET', url: '/tasks' }) as
    ((value: unknown) => boolean) & { errors: unknown[] };
  assert.equal(validate({ status: 'bogus', limit: 0 }), false);
  const error = Object.assign(new Error('x'), { validationContext: 'querystring', validation: validate.errors });
  assert.deepEqual(toErrorResponse(error).details, [
    { path: 'querystring/status', message: 'must be one of queued, running, succeeded, failed, cancelled' },
    { path: 'querystring/limit', message: 'must be >= 1' },
  ]);
});
