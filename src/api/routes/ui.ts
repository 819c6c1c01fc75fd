/**
 * /ui: Berth's web page, and the ES modules it runs. No key is needed for these (they hold no
 * data); every API call the page makes carries the user's own key.
 *
 * The modules are Berth's own source files, served as they are: the page's (src/ui/), the SDK's
 * (src/client/) and the one file of plain data the SDK imports at run time (src/tasks/task-status.ts).
 * Running from dist/, the compiled .js is served; running from src/ (Node's type stripping), the
 * .ts with its types stripped. Both extensions answer, since compiled files import `.js` and
 * stripped ones `.ts`. Anything outside that allow-list is a 404: the path must match one flat
 * kebab-case file name in one of those folders, so `..`, encoded or not, never reaches the disk.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as nodeModule from 'node:module';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../errors.ts';
import { UI_CSS, uiPage } from '../../ui/page.ts';

const SOURCE_ROOT = new URL('../../', import.meta.url);
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const EXTENSION = FROM_SOURCE ? '.ts' : '.js';
const MODULE_PATH = /^((?:ui|client)\/[a-z0-9]+(?:-[a-z0-9]+)*|tasks\/task-status)\.(?:js|ts)$/;

/** The page may run only Berth's own modules and talk only to Berth: no inline script, no other origin. */
const PAGE_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "img-src 'self'",
  "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** The file a module path names, in this process's own form (.ts or .js); undefined outside the allow-list. */
export function moduleFile(path: string): URL | undefined {
  const match = MODULE_PATH.exec(path);
  return match === null ? undefined : new URL(`${match[1]!}${EXTENSION}`, SOURCE_ROOT);
}

/** Node >= 22.13 and 23.2 has it; only a Berth running from src/ needs it, and that Node has it. */
function stripTypes(code: string): string {
  const strip = (nodeModule as { stripTypeScriptTypes?: (code: string) => string }).stripTypeScriptTypes;
  if (strip === undefined) throw new Error('this Node cannot strip TypeScript types: run Berth from dist/ (npm run build)');
  return strip(code);
}

async function moduleSource(file: URL): Promise<string | undefined> {
  let code: string;
  try {
    code = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return FROM_SOURCE ? stripTypes(code) : code;
}

/** Sends body with a strong ETag, or 304 when the browser already holds it. Revalidated each time: a new Berth serves new files. */
function sendCached(request: FastifyRequest, reply: FastifyReply, type: string, body: string): FastifyReply {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  reply.header('etag', etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff');
  if (request.headers['if-none-match'] === etag) return reply.code(304).send();
  return reply.type(type).send(body);
}

export const uiRoutes: FastifyPluginAsync = async (app) => {
  const route = { config: { scope: 'public' as const }, schema: { hide: true } };
  const page = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    reply.header('content-security-policy', PAGE_POLICY).header('referrer-policy', 'no-referrer');
    return sendCached(request, reply, 'text/html; charset=utf-8', uiPage(`modules/ui/main${EXTENSION}`));
  };
  // The page is /ui/ (its links are relative to it); `ui/` resolves against /ui, or /prefix/ui behind a proxy.
  app.get('/ui', route, async (_request, reply) => reply.redirect('ui/', 301));
  app.get('/ui/', route, page);
  app.get('/ui/page.css', route, async (request, reply) => sendCached(request, reply, 'text/css; charset=utf-8', UI_CSS));
  app.get('/ui/modules/*', route, async (request, reply) => {
    const path = (request.params as { '*': string })['*'];
    const file = moduleFile(path);
    const code = file === undefined ? undefined : await moduleSource(file);
    if (code === undefined) throw new AppError('ROUTE_NOT_FOUND', `no module ${path} for the web page`);
    return sendCached(request, reply, 'text/javascript; charset=utf-8', code);
  });
};
