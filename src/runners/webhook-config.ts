/**
 * The `webhooks:` and `callbacks:` sections of the runners file, resolved on top of the shape
 * check (runner-config-schema.ts): secrets expanded from ${VAR}, the runner or workflow each
 * webhook starts checked against those sections, JSON Pointers and URLs checked, keys decoded.
 */
import { checkName } from './config-names.ts';
import type { Env } from './env-interpolation.ts';
import { expand } from './env-interpolation.ts';
import { normalizeCallbackUrl } from './callback-endpoints.ts';
import type { CallbackEndpoint, CallbackSettings, Webhook, WebhookSource, WebhookTarget } from './runner.ts';
import { isMapping, type Mapping, type ProblemReporter } from './runner-config-schema.ts';
import { parseDuration } from '../units.ts';
import { createAllowList } from '../address-guard.ts';
import { isJsonPointer } from '../json-pointer.ts';
import { parseWebhookSecret } from '../webhook-signatures.ts';

export interface SectionContext extends ProblemReporter {
  readonly env: Env;
}

/** The names a webhook may start, by kind: those of the runners and workflows sections. */
export type TargetNames = Readonly<Record<WebhookTarget['kind'], ReadonlySet<string>>>;

const DEFAULT_TOLERANCE_MS = 5 * 60_000;
const TARGET_KINDS = ['runner', 'workflow'] as const;

export function resolveWebhooks(section: unknown, targetNames: TargetNames, context: SectionContext): Map<string, Webhook> {
  const webhooks = new Map<string, Webhook>();
  if (!isMapping(section)) return webhooks;
  for (const [name, raw] of Object.entries(section)) {
    if (!isMapping(raw)) continue;
    const at = (...keys: string[]) => ['webhooks', name, ...keys];
    checkName('webhook name', name, at(), context);
    const source = raw['source'] as WebhookSource;
    const target = resolveTarget(raw, targetNames, at, context, 'what its deliveries start');
    const secret = expandSecret(raw['secret'], at('secret'), context);
    let signingKey: Buffer | undefined;
    if (source === 'generic' && secret !== '') {
      try {
        signingKey = parseWebhookSecret(secret);
      } catch (error) {
        context.report(at('secret'), (error as Error).message);
      }
    }
    const input = isMapping(raw['input']) ? (raw['input'] as Record<string, string>) : undefined;
    for (const [key, pointer] of Object.entries(input ?? {})) {
      if (typeof pointer === 'string' && !isJsonPointer(pointer)) context.report(at('input', key), 'must be a JSON Pointer such as /issue/key');
    }
    webhooks.set(name, Object.freeze({
      name, source, target, secret, signingKey,
      events: Array.isArray(raw['events']) ? Object.freeze([...(raw['events'] as string[])]) : undefined,
      input: input === undefined ? undefined : Object.freeze({ ...input }),
      callback: checkUrl(raw['callback'], at('callback'), context),
      toleranceMs: duration(raw['tolerance'], at('tolerance'), context) ?? DEFAULT_TOLERANCE_MS,
    }));
  }
  return webhooks;
}

/**
 * Exactly one of runner and workflow (a webhook's or a schedule's); `starts` says what the entry
 * starts with it. A key is given when present at all: a value of the wrong type was reported by
 * the shape check, and must not also read as "neither".
 */
export function resolveTarget(
  raw: Mapping, targetNames: TargetNames, at: (...keys: string[]) => string[], context: ProblemReporter, starts: string,
): WebhookTarget {
  const given = TARGET_KINDS.filter((kind) => raw[kind] !== undefined);
  if (given.length === 0) context.report(at(), `needs runner or workflow (${starts})`);
  if (given.length > 1) context.report(at(), 'give runner or workflow, not both');
  for (const kind of given) {
    const name = raw[kind];
    if (typeof name === 'string' && name !== '' && !targetNames[kind].has(name)) context.report(at(kind), `no ${kind} named '${name}'`);
  }
  const kind = given[0] ?? 'runner';
  return Object.freeze({ kind, name: typeof raw[kind] === 'string' ? raw[kind] : '' });
}

export function resolveCallbacks(section: unknown, context: SectionContext): CallbackSettings | undefined {
  if (!isMapping(section)) return undefined;
  if (section['secret'] !== undefined) {
    context.report(['callbacks', 'secret'], 'replaced by endpoints: [{url, secret}]: each destination of callbacks has its own secret, ' +
      'so that nobody who may submit can have Berth sign for a URL of their choosing');
  }
  const endpoints: CallbackEndpoint[] = [];
  const seen = new Set<string>();
  (Array.isArray(section['endpoints']) ? section['endpoints'] : []).forEach((raw: unknown, i) => {
    if (!isMapping(raw)) return;
    const at = (...keys: string[]) => ['callbacks', 'endpoints', String(i), ...keys];
    const written = typeof raw['url'] === 'string' ? expand(raw['url'], context.env) : undefined;
    if (written !== undefined && 'error' in written) context.report(at('url'), written.error);
    const url = written !== undefined && 'value' in written ? normalizeCallbackUrl(written.value) : undefined;
    if (written !== undefined && 'value' in written && url === undefined) {
      context.report(at('url'), 'must be an http:// or https:// URL (a prefix of the callback URLs it signs)');
    }
    if (url !== undefined && seen.has(url)) context.report(at('url'), 'another endpoint has the same URL');
    if (url !== undefined) seen.add(url);
    const secret = expandSecret(raw['secret'], at('secret'), context);
    let signingKey: Buffer = Buffer.alloc(0);
    try {
      if (secret !== '') signingKey = parseWebhookSecret(secret);
    } catch (error) {
      context.report(at('secret'), (error as Error).message);
    }
    if (url !== undefined) endpoints.push(Object.freeze({ url, signingKey }));
  });
  const allow = Array.isArray(section['allow']) ? (section['allow'] as string[]) : [];
  allow.forEach((entry, i) => {
    try {
      createAllowList([entry]);
    } catch (error) {
      context.report(['callbacks', 'allow', String(i)], (error as Error).message);
    }
  });
  const retries = isMapping(section['retries']) ? section['retries'] : {};
  return Object.freeze({
    endpoints: Object.freeze(endpoints),
    allow: Object.freeze([...allow]),
    timeoutMs: duration(section['timeout'], ['callbacks', 'timeout'], context) ?? 10_000,
    retries: Object.freeze({
      limit: typeof retries['limit'] === 'number' ? retries['limit'] : 5,
      delayMs: duration(retries['delay'], ['callbacks', 'retries', 'delay'], context) ?? 1_000,
    }),
  });
}

/** A callback URL in the file: checked for form here; its address is checked when it is used. */
export function checkUrl(value: unknown, path: readonly string[], context: ProblemReporter): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // reported below: a URL that does not parse is simply not a URL
  }
  context.report(path, 'must be an http:// or https:// URL');
  return undefined;
}

export function expandSecret(value: unknown, path: readonly string[], context: SectionContext): string {
  if (typeof value !== 'string') return '';
  const expanded = expand(value, context.env);
  if ('error' in expanded) {
    context.report(path, expanded.error);
    return '';
  }
  if (expanded.value === '') context.report(path, 'must not be empty');
  return expanded.value;
}

function duration(value: unknown, path: readonly string[], context: SectionContext): number | undefined {
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  const ms = parseDuration(value);
  if (ms !== undefined && ms > 0) return ms;
  context.report(path, 'must be a positive duration');
  return undefined;
}
