/**
 * Reads the runners file (berth.yaml) into the frozen RunnersConfig the rest of Berth uses.
 *
 * Three passes, each collecting problems instead of stopping at the first: YAML syntax, then the
 * shape (runner-config-schema.ts), then meaning (names, durations, sizes, ${VAR} expansion, input
 * schemas; the other sections in webhook-config.ts, workflow-config.ts and schedule-config.ts). The
 * meaning pass only looks at values whose type is right, so a runner with a typo'd key still has
 * its bad timeout reported. Any problem at all throws one ConfigError listing them all; a
 * RunnersConfig is only returned for a file without problems.
 *
 * The environment used for ${VAR} is passed in; nothing here reads process.env.
 */
import { readFile } from 'node:fs/promises';
import { isNode, parseDocument, type Document, type YAMLError } from 'yaml';
import { ConfigError } from '../config-error.ts';
import { checkName } from './config-names.ts';
import { expand, type Env } from './env-interpolation.ts';
import { resolveInputSchema } from './input-schema.ts';
import { checkConfigShape, formatProblem, isMapping, type ConfigProblem } from './runner-config-schema.ts';
import { checkUrl, resolveCallbacks, resolveWebhooks } from './webhook-config.ts';
import type { CallbackSettings, RetryPolicy, Runner, RunnerLimits, RunnersConfig, Schedule, Webhook, Workflow } from './runner.ts';
import { resolveNetwork, resolveNetworksAllowed, resolveSwitches, resolveUser, SANDBOX_DEFAULTS } from './runner-sandbox.ts';
import { resolveSchedules } from './schedule-config.ts';
import { resolveAuth } from './auth-config.ts';
import { resolveRateLimits } from './rate-limit-config.ts';
import { endpointFor } from './callback-endpoints.ts';
import { splitShellWords } from './shell-words.ts';
import { resolveWorkflows } from './workflow-config.ts';
import { parseDuration, parseSize } from '../units.ts';

export interface LoadRunnersOptions {
  /** Variables available to ${VAR} references in runner env values. */
  readonly env: Env;
  /** Default for limits.output when a runner does not set it; 10 MiB when omitted. */
  readonly defaultOutputBytes?: number;
  /** A test hook: schedules' cron expressions may have a leading seconds field. */
  readonly cronSeconds?: boolean;
}

export interface ParseRunnersOptions extends LoadRunnersOptions {
  /** Where `text` came from (usually the file path); prefixes every line of a ConfigError. */
  readonly source: string;
}

const DEFAULT_TIMEOUT_MS = 300_000;
const DEFAULT_OUTPUT_BYTES = 10 * 1024 * 1024;
const DEFAULT_RETRY_DELAY_MS = 1_000;
/** Node's timers fire immediately beyond 2^31-1 ms, so a longer timeout would kill at once. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export async function loadRunnersFile(path: string, options: LoadRunnersOptions): Promise<RunnersConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read ${path}: ${describeReadError(error)}`], { cause: error });
  }
  return parseRunnersConfig(text, { ...options, source: path });
}

export function parseRunnersConfig(text: string, options: ParseRunnersOptions): RunnersConfig {
  const syntax = parseYaml(text);
  if ('problems' in syntax) throw new ConfigError(options.source, syntax.problems);
  // An empty file is an empty mapping, so it is reported as "runners: is required".
  const document = syntax.value ?? {};
  const problems = checkConfigShape(document);
  const context: ResolveContext = {
    env: options.env,
    defaultOutputBytes: options.defaultOutputBytes ?? DEFAULT_OUTPUT_BYTES,
    cronSeconds: options.cronSeconds ?? false,
    report: (path, message) => problems.push({ path, message }),
  };
  const section = (key: string): unknown => (isMapping(document) ? document[key] : undefined);
  const runners = resolveRunners(section('runners'), resolveNetworksAllowed(section('networks_allowed'), context), context);
  const workflows = resolveWorkflows(section('workflows'), new Set(runners.keys()), context);
  // After workflows: a schedule may start one of them, and its input must pass the target's schema.
  const schedules = resolveSchedules(section('schedules'), { runners, workflows }, context);
  // After workflows: a webhook may start one of them.
  const webhooks = resolveWebhooks(section('webhooks'), { runner: new Set(runners.keys()), workflow: new Set(workflows.keys()) }, context);
  const callbacks = resolveCallbacks(section('callbacks'), context);
  checkCallbackDefaults({ runners, webhooks, workflows }, callbacks, context);
  const rateLimits = resolveRateLimits(section('rate_limits'), context);
  const auth = resolveAuth(section('auth'), { runners: new Set(runners.keys()), workflows: new Set(workflows.keys()) }, context, rateLimits);
  if (problems.length > 0) {
    throw new ConfigError(options.source, sortInFileOrder(problems, syntax.document).map(formatProblem));
  }
  return Object.freeze({
    runners: runners as ReadonlyMap<string, Runner>,
    webhooks: webhooks as ReadonlyMap<string, Webhook>,
    callbacks,
    workflows: workflows as ReadonlyMap<string, Workflow>,
    schedules: schedules as ReadonlyMap<string, Schedule>,
    auth,
    rateLimits,
  });
}

/** A default callback must fall under an endpoint of the callbacks section: else nothing could sign it. */
function checkCallbackDefaults(
  sections: Readonly<Record<string, ReadonlyMap<string, { readonly name: string; readonly callback: string | undefined }>>>,
  callbacks: CallbackSettings | undefined,
  context: ResolveContext,
): void {
  for (const [section, entries] of Object.entries(sections)) {
    for (const { name, callback } of entries.values()) {
      if (callback === undefined) continue;
      if (callbacks === undefined) context.report([section, name, 'callback'], 'needs a callbacks section (with endpoints and their secrets)');
      else if (callbacks.endpoints.length > 0 && endpointFor(callbacks.endpoints, callback) === undefined) {
        context.report([section, name, 'callback'], 'is under no callbacks endpoint (callbacks.endpoints[].url)');
      }
    }
  }
}

function parseYaml(text: string): { document: Document; value: unknown } | { problems: string[] } {
  // merge: `<<: *base` lets runners share settings through anchors, as compose files do.
  const document = parseDocument(text, { merge: true });
  // Warnings (e.g. an unknown !tag) are problems too: they mean the value is not what was written.
  const issues = [...document.errors, ...document.warnings];
  if (issues.length > 0) return { problems: issues.map(describeYamlIssue) };
  try {
    return { document, value: document.toJS() };
  } catch (error) {
    // toJS throws on alias bombs (maxAliasCount) and similar; report it like a syntax error.
    return { problems: [`invalid YAML: ${(error as Error).message}`] };
  }
}

/**
 * Orders problems as their values appear in the file, so the list reads top to bottom. A path
 * that is not in the file (a missing key) sorts at its parent's position.
 */
function sortInFileOrder(problems: readonly ConfigProblem[], document: Document): ConfigProblem[] {
  const offset = ({ path }: ConfigProblem): number => {
    for (let depth = path.length; depth > 0; depth -= 1) {
      const node: unknown = document.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return node.range[0];
    }
    return -1;
  };
  return problems
    .map((problem) => ({ problem, at: offset(problem) }))
    .sort((a, b) => a.at - b.at)
    .map(({ problem }) => problem);
}

function describeYamlIssue(issue: YAMLError): string {
  const message = issue.code === 'MULTIPLE_DOCS' ? 'the file must hold a single YAML document' : issue.message;
  const position = issue.linePos?.[0];
  // The library appends " at line L, column C:" and a source excerpt; keep one line per problem.
  const reason = message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
  return position === undefined ? `invalid YAML: ${reason}` : `line ${position.line}, column ${position.col}: ${reason}`;
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return (error as Error).message;
}

interface ResolveContext {
  readonly env: Env;
  readonly defaultOutputBytes: number;
  readonly cronSeconds: boolean;
  readonly report: (path: readonly string[], message: string) => void;
}

/** Every entry is resolved, even ones with problems, so that all of a file's problems surface. */
function resolveRunners(section: unknown, networksAllowed: ReadonlySet<string>, context: ResolveContext): Map<string, Runner> {
  const runners = new Map<string, Runner>();
  if (!isMapping(section)) return runners;
  for (const [name, entry] of Object.entries(section)) {
    checkName('runner name', name, ['runners', name], context);
    runners.set(name, resolveRunner(name, isMapping(entry) ? entry : {}, networksAllowed, context));
  }
  return runners;
}

/**
 * Builds a Runner from one entry. Values of the wrong type were already reported by the shape
 * check and are replaced by defaults here; the Runner is then discarded with the ConfigError.
 */
function resolveRunner(name: string, entry: Readonly<Record<string, unknown>>, networksAllowed: ReadonlySet<string>, context: ResolveContext): Runner {
  const at = (...keys: string[]) => ['runners', name, ...keys];
  return Object.freeze({
    name,
    image: typeof entry['image'] === 'string' ? entry['image'] : '',
    command: resolveCommand(entry['command'], at('command'), context),
    env: resolveEnv(entry['env'], at('env'), context),
    timeoutMs: resolveTimeout(entry['timeout'], at('timeout'), context),
    ...resolveInputSchema(entry['input_schema'], at('input_schema'), context),
    output: entry['output'] === 'text' ? 'text' : 'json',
    network: resolveNetwork(entry['network'], networksAllowed, at('network'), context),
    user: resolveUser(entry['user'], at('user'), context),
    ...resolveSwitches(entry),
    limits: resolveLimits(isMapping(entry['limits']) ? entry['limits'] : {}, at('limits'), context),
    retries: resolveRetries(isMapping(entry['retries']) ? entry['retries'] : {}, at('retries'), context),
    concurrency: typeof entry['concurrency'] === 'number' ? entry['concurrency'] : undefined,
    callback: checkUrl(entry['callback'], at('callback'), context),
  });
}

function resolveCommand(value: unknown, path: string[], context: ResolveContext): readonly string[] | undefined {
  if (Array.isArray(value)) return Object.freeze(value.map(String));
  if (typeof value !== 'string') return undefined;
  const split = splitShellWords(value);
  if ('error' in split) context.report(path, split.error);
  else if (split.words.length === 0) context.report(path, 'must not be empty');
  else return Object.freeze(split.words);
  return undefined;
}

function resolveEnv(value: unknown, path: string[], context: ResolveContext): Readonly<Record<string, string>> {
  const env: [string, string][] = [];
  for (const [key, raw] of Object.entries(isMapping(value) ? value : {})) {
    // The engine passes env as "KEY=value" strings, so "=" (or NUL) in a key cannot round-trip.
    if (key === '' || /[=\0]/.test(key)) context.report([...path, key], "invalid variable name: must be non-empty, without '='");
    if (typeof raw === 'number' || typeof raw === 'boolean') env.push([key, String(raw)]);
    if (typeof raw !== 'string') continue;
    const expanded = expand(raw, context.env);
    if ('error' in expanded) context.report([...path, key], expanded.error);
    else env.push([key, expanded.value]);
  }
  // fromEntries defines own properties, so even a key such as "__proto__" is kept as a variable.
  return Object.freeze(Object.fromEntries(env));
}

function resolveTimeout(value: unknown, path: string[], context: ResolveContext): number {
  if (typeof value !== 'number' && typeof value !== 'string') return DEFAULT_TIMEOUT_MS;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) context.report(path, 'must be a positive duration');
  else if (ms > MAX_TIMEOUT_MS) context.report(path, 'must not exceed 596h');
  else return ms;
  return DEFAULT_TIMEOUT_MS;
}

function resolveRetries(retries: Readonly<Record<string, unknown>>, path: string[], context: ResolveContext): RetryPolicy {
  const { limit, delay, backoff } = retries;
  let delayMs = DEFAULT_RETRY_DELAY_MS;
  if (typeof delay === 'number' || typeof delay === 'string') {
    const ms = parseDuration(delay);
    if (ms === undefined || ms > MAX_TIMEOUT_MS) context.report([...path, 'delay'], 'must be a duration');
    else delayMs = ms;
  }
  return Object.freeze({
    limit: typeof limit === 'number' ? limit : 0,
    delayMs,
    backoff: backoff === 'fixed' ? 'fixed' : 'exponential',
  });
}

function resolveLimits(limits: Readonly<Record<string, unknown>>, path: string[], context: ResolveContext): RunnerLimits {
  const size = (key: string): number | undefined => {
    const value = limits[key];
    if (typeof value !== 'number' && typeof value !== 'string') return undefined;
    const bytes = parseSize(value);
    if (bytes !== undefined && bytes > 0) return bytes;
    context.report([...path, key], 'must be a positive size');
    return undefined;
  };
  const { cpus, pids, nofile } = limits;
  const nanoCpus = typeof cpus === 'number' && cpus > 0 ? Math.round(cpus * 1e9) : undefined;
  // Docker reads NanoCpus 0 as "no limit", so a value too small to express must not round to it.
  if (nanoCpus === 0) context.report([...path, 'cpus'], 'must be a positive number');
  return Object.freeze({
    memoryBytes: size('memory') ?? SANDBOX_DEFAULTS.memoryBytes,
    ...optional('nanoCpus', nanoCpus),
    pids: typeof pids === 'number' ? pids : SANDBOX_DEFAULTS.pids,
    nofile: typeof nofile === 'number' ? nofile : SANDBOX_DEFAULTS.nofile,
    tmpBytes: size('tmp') ?? SANDBOX_DEFAULTS.tmpBytes,
    logBytes: size('log') ?? SANDBOX_DEFAULTS.logBytes,
    outputBytes: size('output') ?? context.defaultOutputBytes,
  });
}

/** `{ key: value }`, or `{}` when value is undefined, so that unset limits are absent keys. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
