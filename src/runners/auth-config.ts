/**
 * The `auth:` section of the runners file, resolved on top of the shape check: each key's secret
 * expanded from ${VAR} and kept only as its SHA-256, or its SHA-256 as written; names and secrets
 * unique; the runners and workflows it may use checked against the file.
 *
 * A key that lists runners but not workflows may start no workflow, and the other way round: a
 * limited key is limited in both. A key that lists neither may use everything its scopes allow.
 */
import { createHash } from 'node:crypto';
import type { Access, Scope } from './access.ts';
import { normalizeCallbackUrl } from './callback-endpoints.ts';
import { checkName } from './config-names.ts';
import { DEFAULT_RATE_LIMITS, rateOf } from './rate-limit-config.ts';
import type { ApiKey, AuthSettings, RateLimits } from './runner.ts';
import { isMapping } from './runner-config-schema.ts';
import { expandSecret, type SectionContext } from './webhook-config.ts';

/** Shorter secrets are guessable; `berth key new` makes 32 random bytes. */
const MIN_KEY_LENGTH = 16;
const SHA256_HEX = /^[0-9a-f]{64}$/i;
const GLOB = /^[a-z0-9*][a-z0-9._*-]{0,62}$/i;

export function resolveAuth(
  section: unknown, names: { readonly runners: ReadonlySet<string>; readonly workflows: ReadonlySet<string> }, context: SectionContext,
  rateLimits: RateLimits = DEFAULT_RATE_LIMITS,
): AuthSettings | undefined {
  if (section === undefined) return undefined;
  if (section === 'none') return Object.freeze({ mode: 'none' });
  if (!isMapping(section) || !Array.isArray(section['keys'])) return undefined;
  const keys: ApiKey[] = [];
  const seenNames = new Set<string>();
  const seenHashes = new Map<string, string>();
  section['keys'].forEach((raw: unknown, i) => {
    if (!isMapping(raw)) return;
    const at = (...more: string[]) => ['auth', 'keys', String(i), ...more];
    const name = typeof raw['name'] === 'string' ? raw['name'] : '';
    if (name !== '') {
      checkName('key name', name, at('name'), context);
      if (seenNames.has(name)) context.report(at('name'), `another key is already named '${name}'`);
      seenNames.add(name);
    }
    const sha256 = hashOf(raw, at, context);
    if (sha256 !== undefined) {
      const other = seenHashes.get(sha256.toString('hex'));
      if (other !== undefined) context.report(at(), `has the same secret as key '${other}'`);
      seenHashes.set(sha256.toString('hex'), name);
    }
    const runners = targets(raw['runners'], names.runners, 'runner', at('runners'), context);
    const workflows = targets(raw['workflows'], names.workflows, 'workflow', at('workflows'), context);
    const callbacks = callbackPrefixes(raw['callbacks'], at('callbacks'), context);
    const limited = runners !== undefined || workflows !== undefined;
    const access: Access = Object.freeze({
      principal: name,
      scopes: new Set(Array.isArray(raw['scopes']) ? (raw['scopes'] as Scope[]) : []),
      runners: limited ? (runners ?? []) : undefined,
      workflows: limited ? (workflows ?? []) : undefined,
      callbacks,
    });
    const rate = typeof raw['rate'] === 'string' ? rateOf(raw['rate'], at('rate'), context) : rateLimits.keys;
    keys.push(Object.freeze({ name, sha256: sha256 ?? Buffer.alloc(32), access, rate }));
  });
  return Object.freeze({ mode: 'keys', keys: Object.freeze(keys) });
}

/** The key's SHA-256: of its expanded secret, or as written. */
function hashOf(raw: Readonly<Record<string, unknown>>, at: (...more: string[]) => string[], context: SectionContext): Buffer | undefined {
  const given = ['key', 'sha256'].filter((field) => raw[field] !== undefined);
  if (given.length !== 1) {
    context.report(at(), given.length === 0 ? 'needs key (the secret, usually ${VAR}) or sha256 (its SHA-256 in hex)' : 'give key or sha256, not both');
    return undefined;
  }
  if (raw['sha256'] !== undefined) {
    const hex = raw['sha256'];
    if (typeof hex !== 'string') return undefined;
    if (!SHA256_HEX.test(hex)) {
      context.report(at('sha256'), 'must be 64 hexadecimal digits (the SHA-256 of the key; berth key new prints it)');
      return undefined;
    }
    return Buffer.from(hex, 'hex');
  }
  const secret = expandSecret(raw['key'], at('key'), context);
  if (secret === '') return undefined;
  if (secret.length < MIN_KEY_LENGTH) {
    context.report(at('key'), `must be at least ${MIN_KEY_LENGTH} characters (berth key new makes one)`);
    return undefined;
  }
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** URL prefixes its callbackUrls must fall under, normalized like the endpoints' URLs. */
function callbackPrefixes(value: unknown, path: readonly string[], context: SectionContext): readonly string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const prefixes: string[] = [];
  value.forEach((entry: unknown, i) => {
    if (typeof entry !== 'string') return;
    const url = normalizeCallbackUrl(entry);
    if (url === undefined) context.report([...path, String(i)], 'must be an http:// or https:// URL (a prefix of the callback URLs this key may give)');
    else prefixes.push(url);
  });
  return Object.freeze(prefixes);
}

/** Names or `*` globs; a name without `*` must be declared in the file, so a typo is caught. */
function targets(
  value: unknown, declared: ReadonlySet<string>, kind: string, path: readonly string[], context: SectionContext,
): readonly string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const globs = value.filter((entry): entry is string => typeof entry === 'string');
  globs.forEach((glob, i) => {
    if (!GLOB.test(glob)) context.report([...path, String(i)], `must be a ${kind} name, or a pattern with *`);
    else if (!glob.includes('*') && !declared.has(glob)) context.report([...path, String(i)], `no ${kind} named '${glob}'`);
  });
  return Object.freeze(globs);
}
