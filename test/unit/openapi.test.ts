import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { buildOpenApiDocument, serializeOpenApi } from '../../src/api/openapi-document.ts';

test('openapi/openapi.json matches the routes (run `npm run openapi` after changing a schema)', async () => {
  const committed = await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
  assert.equal(serializeOpenApi(await buildOpenApiDocument()), committed);
});

test('every operation but health and webhooks declares the bearer scheme and its scope, with 401 and 403', async () => {
  const document = await buildOpenApiDocument() as unknown as {
    components: { securitySchemes: Record<string, { type: string; scheme: string }> };
    paths: Record<string, Record<string, { security?: unknown; 'x-berth-scope'?: string; responses: Record<string, unknown> }>>;
  };
  assert.deepEqual(document.components.securitySchemes['apiKey']?.scheme, 'bearer');
  const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
  const open = operations.filter(({ op }) => op.security === undefined).map(({ path }) => path).sort();
  assert.deepEqual(open, ['/healthz', '/readyz', '/webhooks/{name}']);
  for (const { path, method, op } of operations) {
    if (op.security === undefined) continue;
    assert.deepEqual(op.security, [{ apiKey: [] }], `${method} ${path}`);
    assert.ok(['tasks:read', 'tasks:write', 'admin'].includes(op['x-berth-scope'] ?? ''), `${method} ${path}`);
    assert.ok('401' in op.responses && '403' in op.responses, `${method} ${path}`);
  }
  assert.equal(document.paths['/schedules/{name}/trigger']?.['post']?.['x-berth-scope'], 'admin');
  assert.equal(document.paths['/tasks']?.['post']?.['x-berth-scope'], 'tasks:write');
  assert.equal(document.paths['/tasks']?.['get']?.['x-berth-scope'], 'tasks:read');
});
