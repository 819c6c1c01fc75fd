/**
 * What one API key may reach: which scopes it holds, and which runners and workflows, by name or
 * by a `*` glob ("scan-*"). The services take an Access with each call and apply it: a submission
 * to a runner outside it is refused, and tasks or runs outside it read as missing.
 *
 * Pure data and matching; the key itself, and how a request proves it holds one, live in the API.
 */
import { coversUrl, normalizeCallbackUrl } from './callback-endpoints.ts';

export type Scope = 'tasks:read' | 'tasks:write' | 'admin';
export const SCOPES: readonly Scope[] = ['tasks:read', 'tasks:write', 'admin'];

export interface Access {
  /** The key's name, for logs; 'loopback' or 'open' when Berth serves without keys. */
  readonly principal: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Globs of the runners its tasks may use; undefined: every runner. */
  readonly runners: readonly string[] | undefined;
  /** Globs of the workflows its runs may use; undefined: every workflow. */
  readonly workflows: readonly string[] | undefined;
  /** URL prefixes (normalized) a callbackUrl it gives must fall under; undefined: any the endpoints cover. */
  readonly callbacks?: readonly string[] | undefined;
}

/** Everything: Berth serving without keys (loopback, or `auth: none`), and in-process callers (schedules, webhooks). */
export function fullAccess(principal: string): Access {
  return Object.freeze({ principal, scopes: new Set(SCOPES), runners: undefined, workflows: undefined });
}

/** Berth's own callers (webhooks, schedules), which reach everything. */
export const FULL_ACCESS: Access = fullAccess('berth');

/** admin holds every scope. */
export function hasScope(access: Access, scope: Scope): boolean {
  return access.scopes.has('admin') || access.scopes.has(scope);
}

export function mayUseRunner(access: Access, runner: string): boolean {
  return access.runners === undefined || access.runners.some((glob) => globMatches(glob, runner));
}

export function mayUseWorkflow(access: Access, workflow: string): boolean {
  return access.workflows === undefined || access.workflows.some((glob) => globMatches(glob, workflow));
}

/** A callbackUrl given by a client with this access; defaults from the runners file are the operator's. */
export function mayUseCallback(access: Access, url: string): boolean {
  if (access.callbacks === undefined) return true;
  const normalized = normalizeCallbackUrl(url);
  return normalized !== undefined && access.callbacks.some((prefix) => coversUrl(prefix, normalized));
}

/** `*` matches any run of characters; everything else is literal. */
export function globMatches(glob: string, name: string): boolean {
  const pattern = glob.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${pattern}$`).test(name);
}

/** The same globs as SQL LIKE patterns (escape character `\`), so a list can be filtered in the query. */
export function likePatterns(globs: readonly string[]): string[] {
  return globs.map((glob) => glob.replace(/[\\%_]/g, '\\$&').replaceAll('*', '%'));
}
