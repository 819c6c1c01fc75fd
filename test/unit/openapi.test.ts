import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { buildOpenApiDocument, serializeOpenApi } from '../../src/api/openapi-document.ts';

test('openapi/openapi.json matches the routes (run `npm run openapi` after changing a schema)', async () => {
  const committed = await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8');
  assert.equal(serializeOpenApi(await buildOpenApiDocument()), committed);
});
