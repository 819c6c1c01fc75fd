/**
 * Who may use the API. Every route declares the scope it needs (`config: { scope }`); one
 * onRequest hook, before any body is read, checks the request's key against it and puts the key's
 * Access on the request for the services to apply. A route that declares nothing is refused at
 * start-up, so a new route cannot be open by accident.
 *
 * Three modes, from the runners file's `auth:` section and the address Berth listens on:
 * - keys: `Authorization: Bearer <key>`; a missing or unknown key is a 401, a key without the
 *   scope a 403. Keys are compared as SHA-256 digests in constant time, against every key.
 * - loopback (no auth section, loopback address): no keys, but a request whose Host is not a
 *   loopback name is refused, so a web page cannot reach Berth through DNS rebinding; and so is
 *   one a browser marks as sent from another site (Origin, Sec-Fetch-Site), so a web page cannot
 *   make the visitor's browser trigger, cancel or submit (cross-site request forgery: a POST
 *   without a body needs no preflight).
 * - open (`auth: none`): no keys, on purpose.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import { AppError } from '../errors.ts';
import { fullAccess, hasScope, type Access, type Scope } from '../runners/access.ts';
import type { RateLimit, RateLimiter } from '../rate-limits.ts';
import type { ApiKey, AuthSettings } from '../runners/runner.ts';
import { StartupError } from '../startup-error.ts';

/** public: no key (health, webhooks with their own secrets, the API's description). */
export type RouteScope = Scope | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    scope?: RouteScope;
  }
  interface FastifyRequest {
    access: Access;
  }
}

export type ApiAccessMode =
  | { readonly kind: 'keys'; readonly keys: readonly ApiKey[] }
  | { readonly kind: 'loopback' }
  | { readonly kind: 'open' };

/** How the API is guarded, or a StartupError when it would listen beyond loopback with no auth section. */
export function apiAccessMode(auth: AuthSettings | undefined, host: string): ApiAccessMode {
  if (auth?.mode === 'keys') return { kind: 'keys', keys: auth.keys };
  if (auth?.mode === 'none') return { kind: 'open' };
  if (isLoopbackHost(host)) return { kind: 'loopback' };
  throw new StartupError(`Berth would listen on ${host} without API keys: add an auth: section with keys to the runners file ` +
    '(see the README\'s Security section; berth key new makes a key), write auth: none to serve without keys on purpose, ' +
    'or set HOST=127.0.0.1');
}

/** The Swagger UI assets and the OpenAPI document are registered by plugins that set no scope; they hold no data. */
const PUBLIC_PREFIXES = ['/docs', '/openapi.json'];

/** The rate limits the hook applies: each key's own (ApiKey.rate), and each webhook sender address's. */
export interface ApiRateLimits {
  readonly limiter: RateLimiter;
  readonly webhooks: RateLimit | undefined;
}

/**
 * Declares the bearer scheme, and checks and documents each route's scope. Call before any route
 * is registered. With `limits`, a key past its rate, or an address past the webhooks' rate, is
 * answered 429 with Retry-After, after authentication (an unknown key costs no bucket) and
 * before the body is read.
 */
export function registerApiAccess(app: FastifyInstance, mode: ApiAccessMode, limits?: ApiRateLimits): void {
  app.decorateRequest('access', undefined as unknown as Access);
  app.addHook('onRoute', (route) => {
    const scope = (route.config as { scope?: RouteScope } | undefined)?.scope;
    if (scope === undefined && PUBLIC_PREFIXES.some((prefix) => route.url === prefix || route.url.startsWith(`${prefix}/`))) {
      route.config = { ...route.config, scope: 'public' };
      return;
    }
    if (scope === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no scope (config.scope)`);
    if (scope !== 'public') document(route, scope);
  });
  app.addHook('onRequest', async (request) => {
    const { access, key } = authorize(request, mode);
    request.access = access;
    if (limits !== undefined) await applyRateLimit(request, key, limits);
  });
}

/** The request's access, and the key it proved it holds (none without keys, or on a public route). */
function authorize(request: FastifyRequest, mode: ApiAccessMode): { access: Access; key?: ApiKey } {
  // Unmatched routes (404s) have no scope: any known key may learn that a route does not exist.
  const scope = request.routeOptions.config.scope;
  if (scope === 'public') return { access: fullAccess('public') };
  if (mode.kind === 'open') return { access: fullAccess('open') };
  if (mode.kind === 'loopback') {
    const host = request.headers.host ?? '';
    if (!isLoopbackHostHeader(host)) {
      throw new AppError('FORBIDDEN', 'Berth serves without API keys on a loopback address and answers only requests ' +
        'addressed to a loopback name (Host: localhost or 127.0.0.1); configure auth: keys to reach it by another name');
    }
    if (isCrossSite(request)) {
      throw new AppError('FORBIDDEN', 'Berth serves without API keys on a loopback address and answers no request a browser ' +
        'sent from another site (Origin, Sec-Fetch-Site); configure auth: keys for web pages to use it');
    }
    return { access: fullAccess('loopback') };
  }
  const key = findKey(mode.keys, bearerToken(request.headers.authorization));
  if (scope !== undefined && !hasScope(key.access, scope)) {
    throw new AppError('FORBIDDEN', `API key '${key.name}' lacks the scope ${scope} this request needs`);
  }
  return { access: key.access, key };
}

async function applyRateLimit(request: FastifyRequest, key: ApiKey | undefined, limits: ApiRateLimits): Promise<void> {
  const isWebhook = request.routeOptions.url?.startsWith('/webhooks/') === true;
  const [bucket, limit, who] = key !== undefined
    ? [`key:${key.name}`, key.rate, `API key '${key.name}'`]
    : isWebhook ? [`webhook:${request.ip}`, limits.webhooks, `address ${request.ip}`] : [undefined, undefined, ''];
  if (bucket === undefined || limit === undefined) return;
  const waitSeconds = await limits.limiter.take(bucket, limit);
  if (waitSeconds === null) return;
  throw new AppError('RATE_LIMITED', `${who} is over its rate limit of ${limit.text}; try again in ${Math.max(1, Math.ceil(waitSeconds))} s`, {
    retryAfterSeconds: waitSeconds,
  });
}

function bearerToken(header: string | undefined): string {
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (match === null) {
    throw new AppError('UNAUTHORIZED', header === undefined
      ? 'this request needs an API key: send Authorization: Bearer <key>'
      : 'the Authorization header must be Bearer <key>');
  }
  return match[1]!;
}

/** Every key is compared, so the time taken does not tell which one came close. */
function findKey(keys: readonly ApiKey[], token: string): ApiKey {
  const digest = createHash('sha256').update(token, 'utf8').digest();
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(key.sha256, digest) && found === undefined) found = key;
  }
  if (found === undefined) throw new AppError('UNAUTHORIZED', 'the API key is not known');
  return found;
}

function document(route: RouteOptions, scope: Scope): void {
  const schema = (route.schema ?? {}) as Record<string, unknown>;
  const needs = scope === 'admin' ? 'an API key with the scope admin' : `an API key with the scope ${scope} (or admin)`;
  route.schema = {
    ...schema,
    security: [{ apiKey: [] }],
    response: {
      ...(schema['response'] as object | undefined), 401: { $ref: 'ErrorResponse' }, 403: { $ref: 'ErrorResponse' }, 429: { $ref: 'ErrorResponse' },
    },
    'x-berth-scope': scope,
    description: `${typeof schema['description'] === 'string' ? `${schema['description']} ` : ''}Needs ${needs}.`,
  } as RouteOptions['schema'];
}

/** A browser's request from a page of another site: an Origin that is not loopback, or Sec-Fetch-Site cross-site. */
function isCrossSite(request: FastifyRequest): boolean {
  if (request.headers['sec-fetch-site'] === 'cross-site') return true;
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    const { protocol, host } = new URL(origin);
    return !(protocol === 'http:' || protocol === 'https:') || !isLoopbackHostHeader(host);
  } catch {
    // "null" (a sandboxed frame, a file) or anything unreadable: not a loopback page.
    return true;
  }
}

/** A listening address that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare);
  return false;
}

/** A Host header (name or address, with an optional port) that names this machine's loopback. */
export function isLoopbackHostHeader(header: string): boolean {
  const match = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/.exec(header.trim().toLowerCase());
  return match !== null && isLoopbackHost(match[1]!);
}
