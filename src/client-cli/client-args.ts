/**
 * The command line of the client commands (`berth submit`, `berth tasks`, …), read with
 * node:util parseArgs. Pure: every problem is a usage error naming the option or argument, found
 * before anything is sent to Berth.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../units.ts';

export const CLIENT_COMMANDS = ['submit', 'run', 'status', 'logs', 'cancel', 'retry', 'tasks', 'runs', 'runners', 'schedules'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

export function isClientCommand(word: string | undefined): word is ClientCommand {
  return (CLIENT_COMMANDS as readonly string[]).includes(word ?? '');
}

export const CLIENT_USAGE = `client commands (Berth at $BERTH_URL, default http://127.0.0.1:3000; key in $BERTH_API_KEY):
  submit RUNNER      queue a task; prints its id (--wait: its output)
  run WORKFLOW       start a workflow run; prints its id (--wait: its output)
  status ID          a task or a workflow run
  logs ID            a task's stderr (-f: as it is written, until the task ends)
  cancel ID          cancel a task or a workflow run
  retry RUN_ID       run a failed workflow run again from where it failed
  tasks              the newest tasks (--runner, --status, --workflow, --schedule, --limit, --cursor)
  runs               the newest workflow runs (--workflow, --status, --schedule, --limit, --cursor)
  runners            the configured runners
  schedules          the schedules and their next ticks

client options:
  --input JSON|@FILE|-   the input (default: stdin when it is a pipe or a file, else null)
  --wait                 wait until final; exit 0 succeeded, 1 failed, 2 cancelled, 3 still running at --timeout
  -f, --follow           with submit: print the task's stderr while waiting; with run and retry: each step's changes
  --timeout DURATION     how long --wait waits (30s, 5m, 1h; default: until final)
  --idempotency-key K    a replay with the same key returns the first task or run, queuing nothing
  --priority N           -1000..1000, higher first (submit)
  --delay DURATION       do not start before this long from now (submit)
  --start-after TIME     do not start before this ISO 8601 time (submit)
  --callback-url URL     where the end is reported, signed (submit, run)
  --attempt N            which attempt's log (logs; default the latest)
  --json                 print the API's JSON instead of text
  --url URL              Berth's address (default $BERTH_URL)
exit codes: 0 done; with --wait 1 failed, 2 cancelled, 3 timed out waiting; 64 usage, 65 refused by Berth,
  66 input file unreadable, 69 Berth unreachable or unavailable, 70 unexpected answer, 77 key missing or not allowed`;

export interface ClientInvocation {
  readonly command: ClientCommand;
  /** RUNNER, WORKFLOW or ID. */
  readonly target: string | undefined;
  readonly url: string | undefined;
  readonly json: boolean;
  readonly input: string | undefined;
  readonly wait: boolean;
  readonly follow: boolean;
  /** Seconds. */
  readonly timeout: number | undefined;
  readonly idempotencyKey: string | undefined;
  readonly priority: number | undefined;
  /** Seconds. */
  readonly delay: number | undefined;
  readonly startAfter: string | undefined;
  readonly callbackUrl: string | undefined;
  readonly attempt: number | undefined;
  readonly filter: Readonly<{ runner?: string; workflow?: string; status?: string; schedule?: string }>;
  readonly limit: number;
  readonly cursor: string | undefined;
}

export type ClientCommandLine =
  | { readonly kind: 'help'; readonly command: ClientCommand }
  | { readonly kind: 'invoke'; readonly invocation: ClientInvocation }
  | { readonly kind: 'usage-error'; readonly problem: string };

const OPTIONS = {
  input: { type: 'string' }, wait: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' }, timeout: { type: 'string' },
  'idempotency-key': { type: 'string' }, priority: { type: 'string' }, delay: { type: 'string' }, 'start-after': { type: 'string' },
  'callback-url': { type: 'string' }, attempt: { type: 'string' }, runner: { type: 'string' }, workflow: { type: 'string' },
  status: { type: 'string' }, schedule: { type: 'string' }, limit: { type: 'string' }, cursor: { type: 'string' },
  json: { type: 'boolean' }, url: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;
type OptionName = keyof typeof OPTIONS;

const COMMON: readonly OptionName[] = ['json', 'url', 'help'];
const WAITING: readonly OptionName[] = ['wait', 'follow', 'timeout'];
const LISTING: readonly OptionName[] = ['status', 'schedule', 'limit', 'cursor'];

/** What each command takes: its one positional argument (if any) and its options beyond COMMON. */
const SHAPES: Readonly<Record<ClientCommand, { readonly target?: string; readonly options: readonly OptionName[] }>> = {
  submit: { target: 'RUNNER', options: ['input', ...WAITING, 'idempotency-key', 'priority', 'delay', 'start-after', 'callback-url'] },
  run: { target: 'WORKFLOW', options: ['input', ...WAITING, 'idempotency-key', 'callback-url'] },
  status: { target: 'ID', options: [] },
  logs: { target: 'ID', options: ['follow', 'attempt'] },
  cancel: { target: 'ID', options: [] },
  retry: { target: 'RUN_ID', options: WAITING },
  tasks: { options: ['runner', 'workflow', ...LISTING] },
  runs: { options: ['workflow', ...LISTING] },
  runners: { options: [] },
  schedules: { options: [] },
};

/** A list shows this many unless --limit says otherwise; the API's page holds at most 500. */
export const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 500;

export function parseClientArgs(command: ClientCommand, args: readonly string[]): ClientCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: joinNegativeNumbers(args), allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    // Node's first sentence names the option; what follows is advice about its own syntax.
    return usageError(command, error instanceof Error ? error.message.split(/\. |\n/)[0]! : String(error));
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help', command };
  const shape = SHAPES[command];
  const allowed = new Set([...COMMON, ...shape.options]);
  const stray = (Object.keys(values) as OptionName[]).find((name) => !allowed.has(name));
  if (stray !== undefined) return usageError(command, `option --${stray} does not apply to '${command}'`);
  const wanted = shape.target === undefined ? 0 : 1;
  if (positionals.length < wanted) return usageError(command, `missing ${shape.target}`);
  if (positionals.length > wanted) return usageError(command, `unexpected argument '${positionals[wanted]}'`);

  const problems: string[] = [];
  const duration = (name: 'timeout' | 'delay'): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    // A bare number is seconds here, as in the API; units as in the runners file.
    const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : parseDuration(text);
    if (ms === undefined) problems.push(`--${name} must be a duration like 30s, 5m or 1h (got '${text}')`);
    return ms === undefined ? undefined : ms / 1000;
  };
  const integer = (name: 'priority' | 'attempt' | 'limit', min: number, max: number): number | undefined => {
    const text = values[name];
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^-?\d+$/.test(text) || n < min || n > max) problems.push(`--${name} must be a whole number from ${min} to ${max} (got '${text}')`);
    return n;
  };
  const invocation: ClientInvocation = {
    command,
    target: positionals[0],
    url: values.url,
    json: values.json === true,
    input: values.input,
    // --follow waits too: it streams until the end, so the end is there to report.
    wait: values.wait === true || (values.follow === true && command !== 'logs'),
    follow: values.follow === true,
    timeout: duration('timeout'),
    idempotencyKey: values['idempotency-key'],
    priority: integer('priority', -1000, 1000),
    delay: duration('delay'),
    startAfter: values['start-after'],
    callbackUrl: values['callback-url'],
    attempt: integer('attempt', 1, 1_000_000),
    filter: {
      ...(values.runner === undefined ? {} : { runner: values.runner }),
      ...(values.workflow === undefined ? {} : { workflow: values.workflow }),
      ...(values.status === undefined ? {} : { status: values.status }),
      ...(values.schedule === undefined ? {} : { schedule: values.schedule }),
    },
    limit: integer('limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT,
    cursor: values.cursor,
  };
  if (invocation.timeout !== undefined && !invocation.wait) problems.push('--timeout needs --wait');
  if (values['start-after'] !== undefined && Number.isNaN(Date.parse(values['start-after']))) {
    problems.push(`--start-after must be an ISO 8601 time like 2030-01-01T09:00:00Z (got '${values['start-after']}')`);
  }
  if (problems.length > 0) return usageError(command, problems.join('; '));
  return { kind: 'invoke', invocation };
}

/** `--priority -5` as `--priority=-5`: parseArgs takes a value that starts with a dash for an option. */
function joinNegativeNumbers(args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const name = args[i]!.startsWith('--') ? args[i]!.slice(2) : undefined;
    const next = args[i + 1];
    if (name !== undefined && OPTIONS[name as OptionName]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      joined.push(`${args[i]}=${next}`);
      i += 1;
    } else {
      joined.push(args[i]!);
    }
  }
  return joined;
}

function usageError(command: ClientCommand, problem: string): ClientCommandLine {
  return { kind: 'usage-error', problem: `${command}: ${problem.charAt(0).toLowerCase()}${problem.slice(1)}` };
}
