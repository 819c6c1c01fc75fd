/**
 * The SDK's operation table against the committed OpenAPI document (itself held to the routes by
 * openapi.test.ts), both ways: a route the SDK lacks, or a path, method or query parameter the
 * API no longer has, fails here. Request and response types come from the routes' own TypeBox
 * schemas, so the type-check holds them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { OPERATIONS } from '../../src/client/operations.ts';

/** Not for SDK users: senders' webhooks, probes, and Prometheus. */
const NOT_IN_SDK = ['POST /webhooks/{name}', 'GET /healthz', 'GET /readyz', 'GET /metrics'];

type Document = { paths: Record<string, Record<string, { parameters?: { in: string; name: string }[] }>> };

async function documentOperations(): Promise<Map<string, string[]>> {
  const document = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Document;
  const found = new Map<string, string[]>();
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const query = (operation.parameters ?? []).filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
      found.set(`${method.toUpperCase()} ${path}`, query.sort());
    }
  }
  return found;
}

test('every SDK operation is an API operation with exactly its query parameters', async () => {
  const api = await documentOperations();
  for (const operation of Object.values(OPERATIONS)) {
    const key = `${operation.method} ${operation.path}`;
    assert.ok(api.has(key), `${operation.name}: ${key} is not in openapi/openapi.json`);
    assert.deepEqual([...operation.query].sort(), api.get(key), `${operation.name}: query parameters`);
  }
});

test('every API operation for clients has an SDK operation', async () => {
  const sdk = new Set(Object.values(OPERATIONS).map((operation) => `${operation.method} ${operation.path}`));
  const missing = [...(await documentOperations()).keys()].filter((key) => !sdk.has(key) && !NOT_IN_SDK.includes(key));
  assert.deepEqual(missing, []);
});
