/**
 * Errors Fastify finds before any route runs (a malformed percent-encoding, an overlong path
 * segment) are answered like every other error: {statusCode, code, message} with a catalog code.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { errorCatalog } from '../../src/errors.ts';
import { startApiStack, type ApiStack } from '../helpers/stack.ts';

let stack: ApiStack;
before(async () => { stack = await startApiStack(); });
after(async () => { await stack?.close(); });

async function assertError(method: 'GET' | 'POST', url: string, status: number, code: keyof typeof errorCatalog): Promise<void> {
  const response = await stack.app.inject({ method, url, ...(method === 'POST' ? { payload: { runner: 'echo' } } : {}) });
  assert.equal(response.statusCode, status, response.body);
  assert.deepEqual(Object.keys(response.json()).sort(), ['code', 'message', 'statusCode'], response.body);
  assert.equal(response.json().code, code);
  assert.equal(response.json().statusCode, status);
}

test('a malformed percent-encoding in the path → 400 MALFORMED_URL', async () => {
  await assertError('GET', '/tasks/%E0%A4%A', 400, 'MALFORMED_URL');
  await assertError('GET', '/runners/%ZZ', 400, 'MALFORMED_URL');
  await assertError('POST', '/tasks/%ZZ/cancel', 400, 'MALFORMED_URL');
});

test('a path segment over 100 characters → 414 URL_SEGMENT_TOO_LONG', async () => {
  await assertError('GET', `/tasks/${'a'.repeat(150)}`, 414, 'URL_SEGMENT_TOO_LONG');
  await assertError('GET', `/tasks/${'a'.repeat(150)}/logs`, 414, 'URL_SEGMENT_TOO_LONG');
});
