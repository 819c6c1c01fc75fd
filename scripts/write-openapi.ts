/** `npm run openapi`: regenerates openapi/openapi.json from the route schemas. */
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument, serializeOpenApi } from '../src/api/openapi-document.ts';

const target = new URL('../openapi/openapi.json', import.meta.url);
await writeFile(target, serializeOpenApi(await buildOpenApiDocument()));
process.stdout.write(`wrote ${target.pathname}\n`);
