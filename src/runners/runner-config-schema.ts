/**
 * The shape of the runners file (berth.yaml), as TypeBox schemas, and its structural check.
 *
 * This file owns *shape* only: which keys exist, which are required, and the JSON type of each
 * value. Meaning (durations, sizes, ${VAR} expansion, runner names, compiling input_schema) is
 * checked by load-runners.ts and the section resolvers on top of it. The file as a whole is one
 * object schema, so a new top-level section (webhooks:, callbacks:, workflows:) is one more
 * property here plus its own resolver.
 *
 * Ajv reports in JSON Schema terms; checkConfigShape() turns that into `dotted.path: message`
 * problems a YAML author can act on. A schema can give its own wording per keyword with an
 * `errorMessage: { keyword: text }` annotation (the same form as the ajv-errors plugin's).
 */
import { Type, type Static, type TSchema } from 'typebox';
import { Ajv, type ErrorObject } from 'ajv';
import { pointerTokens } from '../json-pointer.ts';

/** A problem located by path segments, e.g. ['runners', 'echo', 'image']; formatProblem() prints it. */
export interface ConfigProblem {
  readonly path: readonly string[];
  readonly message: string;
}

/** How the meaning passes (load-runners.ts and the section resolvers) report a problem at a path. */
export interface ProblemReporter {
  readonly report: (path: readonly string[], message: string) => void;
}

/** A YAML mapping, as the meaning passes find one: a value the shape check may also have reported. */
export type Mapping = Readonly<Record<string, unknown>>;

export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Seconds as a number, or a duration string; the value itself is checked by parseDuration(). */
const Duration = Type.Union([Type.Number(), Type.String()], {
  errorMessage: { anyOf: 'must be a positive duration' },
});

const PositiveInteger = Type.Integer({ minimum: 1, errorMessage: { minimum: 'must be a positive integer' } });

/** A JSON Schema, as a runner's or a workflow's input_schema; input-schema.ts compiles it. */
const InputSchema = Type.Record(Type.String(), Type.Unknown(), { errorMessage: { type: 'must be a mapping (a JSON Schema)' } });

/** Bytes as a number, or a size string; the value itself is checked by parseSize(). */
const Size = Type.Union([Type.Number(), Type.String()], {
  errorMessage: { anyOf: 'must be a positive size' },
});

export const RunnerLimitsEntry = Type.Object(
  {
    memory: Type.Optional(Size),
    cpus: Type.Optional(Type.Number({ exclusiveMinimum: 0, errorMessage: { exclusiveMinimum: 'must be a positive number' } })),
    pids: Type.Optional(PositiveInteger),
    nofile: Type.Optional(Type.Integer({
      minimum: 1, maximum: 1_048_576, errorMessage: { minimum: 'must be an integer from 1 to 1048576', maximum: 'must be an integer from 1 to 1048576' },
    })),
    tmp: Type.Optional(Size),
    log: Type.Optional(Size),
    output: Type.Optional(Size),
  },
  { additionalProperties: false },
);

export const RunnerRetriesEntry = Type.Object(
  {
    limit: Type.Integer({ minimum: 0, maximum: 100, errorMessage: { minimum: 'must be an integer from 0 to 100', maximum: 'must be an integer from 0 to 100' } }),
    delay: Type.Optional(Duration),
    backoff: Type.Optional(Type.Enum(['exponential', 'fixed'])),
  },
  { additionalProperties: false },
);

export const RunnerEntry = Type.Object(
  {
    image: Type.String({ minLength: 1 }),
    // A single string is the classic dispatcher's form; shell-words.ts splits it.
    command: Type.Optional(
      Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })], {
        errorMessage: { anyOf: 'must be a list of strings or a string' },
      }),
    ),
    env: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Union([Type.String(), Type.Number(), Type.Boolean()], {
          errorMessage: { anyOf: 'must be a string, a number or a boolean' },
        }),
      ),
    ),
    timeout: Type.Optional(Duration),
    input_schema: Type.Optional(InputSchema),
    output: Type.Optional(Type.Enum(['json', 'text'])),
    network: Type.Optional(Type.String({ minLength: 1 })),
    // No keys for privileged mode, capabilities, devices or mounts: a runner cannot ask for them.
    // A number is a uid, as YAML reads `user: 1000`; runner-sandbox.ts checks the string form.
    user: Type.Optional(Type.Union([Type.String(), Type.Integer({ minimum: 0, errorMessage: { minimum: 'must be a uid, 0 or more' } })], {
      errorMessage: { anyOf: 'must be a user name or uid, optionally with :group or :gid' },
    })),
    read_only: Type.Optional(Type.Boolean()),
    init: Type.Optional(Type.Boolean()),
    limits: Type.Optional(RunnerLimitsEntry),
    retries: Type.Optional(RunnerRetriesEntry),
    concurrency: Type.Optional(PositiveInteger),
    callback: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type RunnerEntry = Static<typeof RunnerEntry>;

/** `runner` or `workflow`: exactly one, which webhook-config.ts checks (a schema's oneOf would word it poorly). */
export const WebhookEntry = Type.Object(
  {
    source: Type.Enum(['jira', 'asterisk', 'generic']),
    runner: Type.Optional(Type.String({ minLength: 1 })),
    workflow: Type.Optional(Type.String({ minLength: 1 })),
    secret: Type.String({ minLength: 1 }),
    events: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    input: Type.Optional(Type.Record(Type.String(), Type.String())),
    callback: Type.Optional(Type.String({ minLength: 1 })),
    tolerance: Type.Optional(Duration),
  },
  { additionalProperties: false },
);

/** One destination of callbacks: a URL prefix and the secret that signs what goes under it. */
export const CallbackEndpointEntry = Type.Object(
  { url: Type.String({ minLength: 1 }), secret: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

export const CallbacksEntry = Type.Object(
  {
    endpoints: Type.Array(CallbackEndpointEntry, { minItems: 1 }),
    // Gone: one secret for every URL let any submitter get Berth's signature on its own URL.
    // Still in the shape so that webhook-config.ts can say what replaced it.
    secret: Type.Optional(Type.Unknown()),
    allow: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    timeout: Type.Optional(Duration),
    retries: Type.Optional(Type.Object(
      { limit: Type.Integer({ minimum: 0, maximum: 100, errorMessage: { minimum: 'must be an integer from 0 to 100', maximum: 'must be an integer from 0 to 100' } }), delay: Type.Optional(Duration) },
      { additionalProperties: false },
    )),
  },
  { additionalProperties: false },
);

/**
 * One step of a workflow. Pointers are strings here; workflow-config.ts checks that they are JSON
 * Pointers into what the step's envelope holds, and that needs name steps without a cycle.
 */
export const WorkflowStepEntry = Type.Object(
  {
    runner: Type.String({ minLength: 1 }),
    needs: Type.Optional(Type.Array(Type.String())),
    when: Type.Optional(Type.Enum(['succeeded', 'always'])),
    min_succeeded: Type.Optional(PositiveInteger),
    input: Type.Optional(Type.Record(Type.String(), Type.String())),
    for_each: Type.Optional(Type.String()),
    max_items: Type.Optional(Type.Integer({
      minimum: 1, maximum: 10_000, errorMessage: { minimum: 'must be an integer from 1 to 10000', maximum: 'must be an integer from 1 to 10000' },
    })),
  },
  { additionalProperties: false },
);

export const WorkflowEntry = Type.Object(
  {
    input_schema: Type.Optional(InputSchema),
    steps: Type.Record(Type.String(), WorkflowStepEntry, {
      minProperties: 1,
      errorMessage: { minProperties: 'must declare at least one step', type: 'must be a mapping of step ids to steps' },
    }),
    callback: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/**
 * A schedule. `cron` may be empty here so that cron.ts's message says what an expression needs;
 * `runner` or `workflow`, exactly one, and `input` against the target's input_schema are checked
 * in schedule-config.ts.
 */
export const ScheduleEntry = Type.Object(
  {
    cron: Type.String(),
    timezone: Type.Optional(Type.String({ minLength: 1 })),
    runner: Type.Optional(Type.String({ minLength: 1 })),
    workflow: Type.Optional(Type.String({ minLength: 1 })),
    input: Type.Optional(Type.Unknown()),
    overlap: Type.Optional(Type.Enum(['skip', 'allow'])),
    missed: Type.Optional(Type.Enum(['skip', 'once'])),
  },
  { additionalProperties: false },
);

/** One API key: the secret (`key`, usually `${VAR}`) or only its SHA-256 (`sha256`), exactly one; auth-config.ts checks that. */
export const ApiKeyEntry = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    key: Type.Optional(Type.String()),
    sha256: Type.Optional(Type.String()),
    scopes: Type.Array(Type.Enum(['tasks:read', 'tasks:write', 'admin']), { minItems: 1 }),
    runners: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    workflows: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    callbacks: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    rate: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

/** Requests per API key and per webhook sender's address: `N/s`, `N/m`, `N/h` or `none` (rate-limits.ts). */
export const RateLimitsEntry = Type.Object(
  { keys: Type.Optional(Type.String({ minLength: 1 })), webhooks: Type.Optional(Type.String({ minLength: 1 })) },
  { additionalProperties: false },
);

/** `auth: none` opens the API on purpose; otherwise the keys that may use it. */
export const AuthEntry = Type.Union([
  Type.Literal('none', { errorMessage: { const: 'must be none or a mapping with keys:' } }),
  Type.Object(
    { keys: Type.Array(ApiKeyEntry, { minItems: 1 }) },
    { additionalProperties: false },
  ),
], { errorMessage: { anyOf: 'must be none or a mapping with keys:' } });

/** The whole file. Entry names are keys; their pattern is checked in config-names.ts. */
export const BerthConfigFile = Type.Object(
  {
    // Networks a runner may name besides none; runner-sandbox.ts checks each runner's against it.
    networks_allowed: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    runners: Type.Record(Type.String(), RunnerEntry, {
      minProperties: 1,
      errorMessage: {
        minProperties: 'must declare at least one runner',
        type: 'must be a mapping of runner names to runners',
      },
    }),
    webhooks: Type.Optional(Type.Record(Type.String(), WebhookEntry, {
      errorMessage: { type: 'must be a mapping of webhook names to webhooks' },
    })),
    callbacks: Type.Optional(CallbacksEntry),
    workflows: Type.Optional(Type.Record(Type.String(), WorkflowEntry, {
      errorMessage: { type: 'must be a mapping of workflow names to workflows' },
    })),
    schedules: Type.Optional(Type.Record(Type.String(), ScheduleEntry, {
      errorMessage: { type: 'must be a mapping of schedule names to schedules' },
    })),
    auth: Type.Optional(AuthEntry),
    rate_limits: Type.Optional(RateLimitsEntry),
  },
  { additionalProperties: false },
);
export type BerthConfigFile = Static<typeof BerthConfigFile>;

/** Every structural problem in `document` (the parsed YAML), or an empty list. */
export function checkConfigShape(document: unknown): ConfigProblem[] {
  // verbose: errors then carry the failing data and schema, which the wording below needs.
  const ajv = new Ajv({ allErrors: true, strict: true, verbose: true });
  ajv.addKeyword({ keyword: 'errorMessage', schemaType: 'object' });
  const validate = ajv.compile(BerthConfigFile);
  if (validate(document)) return [];
  const seen = new Set<string>();
  return pruneUnionBranches(validate.errors ?? [])
    .map(toProblem)
    .filter((problem) => {
      const key = formatProblem(problem);
      return seen.has(key) ? false : (seen.add(key), true);
    });
}

export function formatProblem(problem: ConfigProblem): string {
  return `${problem.path.length === 0 ? '(root)' : problem.path.join('.')}: ${problem.message}`;
}

/**
 * For a failed anyOf, Ajv reports every branch's errors plus "must match a schema in anyOf".
 * When the value's JSON type selects one branch (a list for `command`), only that branch's errors
 * are kept ("runners.x.command.1: must be a string"); otherwise only the anyOf error is, worded by
 * the union's errorMessage.
 */
function pruneUnionBranches(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  const unions = errors
    .filter((error) => error.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const union of unions) {
    if (dropped.has(union)) continue;
    const branches = union.schema as readonly TSchema[];
    const chosen = branches.findIndex((branch) => matchesJsonType(branch, union.data));
    const kept = `${union.schemaPath}/${chosen}/`;
    for (const error of errors) {
      if (isWithin(error, union) && (chosen === -1 || !error.schemaPath.startsWith(kept))) dropped.add(error);
    }
    if (chosen !== -1) dropped.add(union);
  }
  return errors.filter((error) => !dropped.has(error));
}

function isWithin(error: ErrorObject, union: ErrorObject): boolean {
  const samePlace = error.instancePath === union.instancePath || error.instancePath.startsWith(`${union.instancePath}/`);
  return samePlace && error.schemaPath.startsWith(`${union.schemaPath}/`);
}

function matchesJsonType(schema: TSchema, data: unknown): boolean {
  const { type } = schema as { type?: unknown };
  return type === jsonType(data) || (type === 'integer' && typeof data === 'number');
}

function jsonType(data: unknown): string {
  if (data === null) return 'null';
  if (Array.isArray(data)) return 'array';
  return typeof data;
}

function toProblem(error: ErrorObject): ConfigProblem {
  const path = pointerTokens(error.instancePath);
  if (error.keyword === 'required') {
    return { path: [...path, String(error.params['missingProperty'])], message: 'is required' };
  }
  if (error.keyword === 'additionalProperties') {
    return { path: [...path, String(error.params['additionalProperty'])], message: 'unknown key' };
  }
  const { errorMessage } = (error.parentSchema ?? {}) as { errorMessage?: Readonly<Record<string, string>> };
  return { path, message: errorMessage?.[error.keyword] ?? defaultMessage(error) };
}

/** YAML words (mapping, list) rather than JSON ones, since authors write YAML. */
const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  array: 'a list',
  object: 'a mapping',
  null: 'null',
};

function defaultMessage(error: ErrorObject): string {
  const { params } = error;
  const limit = Number(params['limit']);
  switch (error.keyword) {
    case 'type':
      return `must be ${TYPE_NAMES[String(params['type'])] ?? String(params['type'])}`;
    case 'minLength':
    case 'minItems':
      return limit === 1 ? 'must not be empty' : `must have at least ${limit} ${error.keyword === 'minItems' ? 'items' : 'characters'}`;
    case 'minProperties':
      return `must have at least ${limit} entries`;
    case 'enum':
      return `must be one of: ${(params['allowedValues'] as readonly unknown[]).join(', ')}`;
    case 'anyOf':
      return `must be ${(error.schema as readonly TSchema[])
        .map((branch) => TYPE_NAMES[String((branch as { type?: unknown }).type)] ?? 'valid')
        .join(' or ')}`;
    default:
      return error.message ?? 'is invalid';
  }
}
