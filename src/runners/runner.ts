/**
 * A runner, as the rest of Berth sees it once the YAML file has been validated and resolved:
 * durations in milliseconds, sizes in bytes, `${VAR}` references expanded, the input schema compiled.
 * Nothing here reads files or the environment; load-runners.ts produces these.
 */
import type { CronClock } from '../cron.ts';
import type { RateLimit } from '../rate-limits.ts';
import type { Access } from './access.ts';
import type { ErrorDetail } from '../errors.ts';

export type OutputMode = 'json' | 'text';

export interface RunnerLimits {
  /** Hard memory limit for the container, bytes, without swap; more and the kernel kills (oom). */
  readonly memoryBytes: number;
  /** CPU quota, in units of 1e-9 CPUs (Docker's NanoCpus). */
  readonly nanoCpus?: number;
  /** Maximum number of processes in the container. */
  readonly pids: number;
  /** RLIMIT_NOFILE (soft and hard): open files per process. */
  readonly nofile: number;
  /** Size of the tmpfs on /tmp, bytes. */
  readonly tmpBytes: number;
  /** Size at which the engine's own log of the container stops growing, bytes. */
  readonly logBytes: number;
  /** Largest stdout accepted as the result, bytes; more fails the task with output_too_large. */
  readonly outputBytes: number;
}

export interface RetryPolicy {
  /** Retries after the first attempt; 0 means none. */
  readonly limit: number;
  /** Delay before the first retry. */
  readonly delayMs: number;
  /** exponential: the delay doubles with each retry, with jitter; fixed: always delayMs. */
  readonly backoff: 'exponential' | 'fixed';
}

export interface Runner {
  readonly name: string;
  readonly image: string;
  /** argv; undefined means the image's own entrypoint/cmd. */
  readonly command: readonly string[] | undefined;
  /** Environment for the container, already expanded. Never shown over the API or logged. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** The JSON Schema as written in the config (shown by GET /runners), or undefined. */
  readonly inputSchema: Readonly<Record<string, unknown>> | undefined;
  readonly output: OutputMode;
  /** `none`, or a name listed in the file's networks_allowed. */
  readonly network: string;
  /** The container's user: `uid`, `uid:gid`, or names the image knows. */
  readonly user: string;
  /** The root filesystem is read-only (/tmp is a tmpfs either way). */
  readonly readOnly: boolean;
  /** PID 1 is the engine's init, so signals reach the program and zombies are reaped. */
  readonly init: boolean;
  readonly limits: RunnerLimits;
  readonly retries: RetryPolicy;
  /** Most tasks of this runner running at once across all workers; undefined: no limit. */
  readonly concurrency: number | undefined;
  /** Default callback URL for its tasks. */
  readonly callback: string | undefined;
  /** Checks a task input against inputSchema; returns every violation (empty when valid). */
  readonly validateInput: (input: unknown) => readonly ErrorDetail[];
}

export type WebhookSource = 'jira' | 'asterisk' | 'generic';

/** What a webhook's delivery starts: a task of a runner, or a run of a workflow. */
export interface WebhookTarget {
  readonly kind: 'runner' | 'workflow';
  readonly name: string;
}

/** An inbound webhook: POST /webhooks/{name} starts a task or a workflow run, as `target` says. */
export interface Webhook {
  readonly name: string;
  readonly source: WebhookSource;
  readonly target: WebhookTarget;
  /** jira: the HMAC secret; asterisk: the shared token; generic: the whsec_ secret. */
  readonly secret: string;
  /** generic only: the decoded signing key. */
  readonly signingKey: Buffer | undefined;
  /** Only these event types start anything (jira: webhookEvent; others: the payload's `type`). */
  readonly events: readonly string[] | undefined;
  /** The task's or run's input built from the payload: key → JSON Pointer. Undefined: the whole payload. */
  readonly input: Readonly<Record<string, string>> | undefined;
  readonly callback: string | undefined;
  /** generic: how far webhook-timestamp may be from now. */
  readonly toleranceMs: number;
}

/** A destination of callbacks: every callback URL under `url` (callback-endpoints.ts) is signed with its key. */
export interface CallbackEndpoint {
  /** Normalized (callback-endpoints.ts). */
  readonly url: string;
  readonly signingKey: Buffer;
}

/** Signed callbacks to a task's callbackUrl when it ends. */
export interface CallbackSettings {
  /** A callback URL under none of them is refused at submission. */
  readonly endpoints: readonly CallbackEndpoint[];
  /** Hosts, IPs or CIDRs callbacks may reach although they are not public addresses. */
  readonly allow: readonly string[];
  readonly timeoutMs: number;
  readonly retries: { readonly limit: number; readonly delayMs: number };
}

/**
 * When a step with parents runs, once every parent is final:
 * - succeeded: every parent succeeded, else the step is skipped;
 * - always: whatever the parents' statuses;
 * - min_succeeded: at least `minSucceeded` parents succeeded, else skipped.
 * A for_each parent counts as succeeded only if every one of its elements did.
 */
export type StepCondition =
  | { readonly kind: 'succeeded' }
  | { readonly kind: 'always' }
  | { readonly kind: 'min_succeeded'; readonly minSucceeded: number };

/** One step of a workflow: an ordinary task of `runner`, released when its parents allow. */
export interface WorkflowStep {
  readonly id: string;
  readonly runner: string;
  /** Ids of the steps whose outputs it waits for; empty for a step that starts with the run. */
  readonly needs: readonly string[];
  readonly when: StepCondition;
  /**
   * Task input built from the step's envelope ({input, parents}): key → JSON Pointer into it.
   * Undefined: the envelope itself.
   */
  readonly input: Readonly<Record<string, string>> | undefined;
  /** JSON Pointer into the envelope to an array: one task per element. Undefined: one task. */
  readonly forEach: string | undefined;
  /** Most elements a for_each step takes; more fails the step (or the submission, for /input pointers). */
  readonly maxItems: number;
}

/** A workflow: steps of runners, in an order where every step comes after the steps it needs. */
export interface Workflow {
  readonly name: string;
  /** Steps in dependency order (parents before children), as declared where the order allows. */
  readonly steps: readonly WorkflowStep[];
  /** Steps nothing needs: the run's output is theirs. */
  readonly sinks: readonly string[];
  /** The JSON Schema as written in the config (shown by the API), or undefined. */
  readonly inputSchema: Readonly<Record<string, unknown>> | undefined;
  /** Checks a run's input against inputSchema; returns every violation (empty when valid). */
  readonly validateInput: (input: unknown) => readonly ErrorDetail[];
  /** Default callback URL for its runs. */
  readonly callback: string | undefined;
}

/**
 * A schedule: a task of a runner, or a run of a workflow, started at each tick of a cron
 * expression in a time zone (the tick's instant: cron.ts).
 */
export interface Schedule {
  readonly name: string;
  /** The expression as written. */
  readonly cron: string;
  /** An IANA name; 'UTC' when omitted. */
  readonly timezone: string;
  readonly clock: CronClock;
  readonly target: { readonly kind: 'runner' | 'workflow'; readonly name: string };
  /** The task's or run's input, valid for the target's input_schema; null when omitted. */
  readonly input: unknown;
  /** skip: no tick starts while the previous tick's task or run is unfinished; allow: each tick starts one. */
  readonly overlap: 'skip' | 'allow';
  /** Ticks that passed while Berth was down: skip: none is made up; once: one start makes up for them. */
  readonly missed: 'skip' | 'once';
}

/** An API key: only its SHA-256 is kept, and what it may reach. */
export interface ApiKey {
  readonly name: string;
  readonly sha256: Buffer;
  readonly access: Access;
  /** Its requests per window across every API process; undefined: none. */
  readonly rate: RateLimit | undefined;
}

/** Undefined: no limit. */
export interface RateLimits {
  /** Each API key's, unless the key sets its own. */
  readonly keys: RateLimit | undefined;
  /** Each client address's, on /webhooks/*. */
  readonly webhooks: RateLimit | undefined;
}

/** none: the API is open on purpose; keys: every request but health and webhooks needs one of them. */
export type AuthSettings = { readonly mode: 'none' } | { readonly mode: 'keys'; readonly keys: readonly ApiKey[] };

/** Everything the runners file declares. */
export interface RunnersConfig {
  readonly runners: ReadonlyMap<string, Runner>;
  readonly webhooks?: ReadonlyMap<string, Webhook>;
  readonly callbacks?: CallbackSettings | undefined;
  readonly workflows?: ReadonlyMap<string, Workflow>;
  readonly schedules?: ReadonlyMap<string, Schedule>;
  /** Undefined: no auth section, so Berth serves without keys, and only on a loopback address. */
  readonly auth?: AuthSettings | undefined;
  /** Omitted: the defaults of auth-config.ts. */
  readonly rateLimits?: RateLimits;
}
