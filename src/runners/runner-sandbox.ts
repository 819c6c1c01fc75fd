/**
 * What a runner's container may do, as the runners file says it: the user it runs as, whether its
 * root filesystem is writable, whether it gets an init, which network it joins, and the limits
 * every runner has unless it sets its own. The defaults are the hardened ones; a runner loosens
 * each one in its own entry, and only where it says so.
 *
 * Nothing here can grant privileges: the file has no key for privileged mode, capabilities,
 * devices or mounts (the shape check refuses them as unknown keys), and the container always drops
 * every capability and runs with no-new-privileges (engine/container-create.ts).
 */
import type { Mapping, ProblemReporter } from './runner-config-schema.ts';

const MiB = 1024 * 1024;

export const SANDBOX_DEFAULTS = Object.freeze({
  /** nobody:nogroup in Debian's and most images' passwd; numeric, so images without a passwd work too. */
  user: '65534:65534',
  readOnly: true,
  init: true,
  memoryBytes: 512 * MiB,
  pids: 256,
  /** The usual soft limit of a login shell; a task that needs more says so. */
  nofile: 1024,
  tmpBytes: 64 * MiB,
  /** Berth keeps the output itself (stdout as the result, stderr as the task's log): the engine's copy only has to be bounded. */
  logBytes: 1 * MiB,
});

/** `name`, `uid`, `name:group`, `uid:gid`: the forms the engines' `User` takes. */
const USER_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$/;

export function resolveUser(value: unknown, path: readonly string[], context: ProblemReporter): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') return SANDBOX_DEFAULTS.user;
  if (USER_PATTERN.test(value)) return value;
  context.report(path, 'must be a user name or uid, optionally with :group or :gid (e.g. 65534:65534)');
  return SANDBOX_DEFAULTS.user;
}

/**
 * The file's networks_allowed: names only. A pattern such as `container:*` is refused rather than
 * taken literally, so that nobody believes it allows every container's namespace.
 */
export function resolveNetworksAllowed(value: unknown, context: ProblemReporter): ReadonlySet<string> {
  const allowed = new Set<string>();
  if (!Array.isArray(value)) return allowed;
  value.forEach((name: unknown, index) => {
    if (typeof name !== 'string' || name === '') return;
    if (name.includes('*')) context.report(['networks_allowed', String(index)], `"${name}": networks are listed by name, not by pattern`);
    else if (name === 'container:') context.report(['networks_allowed', String(index)], '"container:" must name the container');
    else allowed.add(name);
  });
  return allowed;
}

/**
 * A runner's network: `none` unless the runner names another, which must be in networks_allowed.
 * `host` and `container:<name>` (another container's namespace) are no exception: they too must
 * be listed, by that very name.
 */
export function resolveNetwork(value: unknown, allowed: ReadonlySet<string>, path: readonly string[], context: ProblemReporter): string {
  if (typeof value !== 'string' || value === 'none') return 'none';
  if (!allowed.has(value)) context.report(path, `"${value}" is not in networks_allowed`);
  return value;
}

/** read_only and init: true unless the runner says false. */
export function resolveSwitches(entry: Mapping): { readonly readOnly: boolean; readonly init: boolean } {
  return { readOnly: entry['read_only'] !== false, init: entry['init'] !== false };
}
