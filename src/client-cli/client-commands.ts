/**
 * The client commands, each on the SDK: what it asks Berth, and what it prints. Every command
 * answers its exit code; failures are thrown (as BerthError or ClientCliError) to client-main.ts,
 * which says them in one sentence.
 */
import { isBerthError, isFinalRun, isFinalTask, type BerthClient, type Task, type WorkflowRun } from '../client/index.ts';
import type { ClientCommand, ClientInvocation } from './client-args.ts';
import { ClientCliError, EXIT, exitForStatus } from './exit-codes.ts';
import { readInput, type InputSources } from './input-source.ts';
import { formatSeconds, formatValue, startSpinner, type Terminal } from './terminal.ts';
import { formatRun, formatTask, listRows } from './views.ts';

export interface CommandContext {
  readonly client: BerthClient;
  readonly terminal: Terminal;
  readonly inputs: InputSources;
}

type Command = (context: CommandContext, invocation: ClientInvocation) => Promise<number>;

/** Without a spinner or --follow to feed, one held request waits as long as the SDK allows; else a second at a time. */
const PROGRESS_SECONDS = 1;

const COMMANDS: Readonly<Record<ClientCommand, Command>> = {
  async submit(context, invocation) {
    const { client, terminal } = context;
    const input = await readInput(invocation.input, context.inputs);
    const task = await client.tasks.submit(invocation.target!, input, {
      ...optional('priority', invocation.priority), ...optional('delay', invocation.delay),
      ...optional('startAfter', invocation.startAfter), ...optional('callbackUrl', invocation.callbackUrl),
      ...optional('idempotencyKey', invocation.idempotencyKey),
    });
    if (!invocation.wait) return printReceipt(terminal, invocation, 'task', task.id, task.status, task);
    return reportTask(terminal, invocation, await waitForTask(context, invocation, task));
  },

  async run(context, invocation) {
    const { client, terminal } = context;
    const input = await readInput(invocation.input, context.inputs);
    const run = await client.workflows.submit(invocation.target!, input, {
      ...optional('callbackUrl', invocation.callbackUrl), ...optional('idempotencyKey', invocation.idempotencyKey),
    });
    if (!invocation.wait) return printReceipt(terminal, invocation, 'run', run.id, run.status, run);
    return reportRun(terminal, invocation, await waitForRun(context, invocation, run));
  },

  async retry(context, invocation) {
    const { client, terminal } = context;
    const run = await client.workflows.retry(invocation.target!);
    if (!invocation.wait) return printReceipt(terminal, invocation, 'run', run.id, run.status, run);
    return reportRun(terminal, invocation, await waitForRun(context, invocation, run));
  },

  async status({ client, terminal }, invocation) {
    const found = await taskOrRun(invocation.target!, (id) => client.tasks.get(id), (id) => client.workflows.get(id));
    if (invocation.json) terminal.out(json(terminal, found.value));
    else terminal.out(found.kind === 'task' ? formatTask(terminal, found.value) : formatRun(terminal, found.value));
    return EXIT.ok;
  },

  async cancel({ client, terminal }, invocation) {
    const found = await taskOrRun(invocation.target!, (id) => client.tasks.cancel(id), (id) => client.workflows.cancel(id));
    if (invocation.json) terminal.out(json(terminal, found.value));
    else terminal.out(`${found.kind} ${found.value.id}: ${found.value.status}\n`);
    return EXIT.ok;
  },

  async logs({ client, terminal }, invocation) {
    for await (const chunk of client.tasks.logs(invocation.target!, { follow: invocation.follow, ...optional('attempt', invocation.attempt) })) {
      terminal.out(chunk);
    }
    return EXIT.ok;
  },

  async tasks({ client, terminal }, invocation) {
    const page = await client.tasks.listPage(pageQuery<Parameters<BerthClient['tasks']['listPage']>[0]>(invocation));
    return printList(terminal, invocation, page, listRows.tasks(terminal, page.items));
  },

  async runs({ client, terminal }, invocation) {
    const page = await client.workflows.listPage(pageQuery<Parameters<BerthClient['workflows']['listPage']>[0]>(invocation));
    return printList(terminal, invocation, page, listRows.runs(terminal, page.items));
  },

  async runners({ client, terminal }, invocation) {
    const runners = await client.runners.list();
    terminal.out(invocation.json ? json(terminal, runners) : listRows.runners(terminal, runners));
    return EXIT.ok;
  },

  async schedules({ client, terminal }, invocation) {
    const schedules = await client.schedules.list();
    terminal.out(invocation.json ? json(terminal, { items: schedules }) : listRows.schedules(terminal, schedules));
    return EXIT.ok;
  },
};

export function runCommand(context: CommandContext, invocation: ClientInvocation): Promise<number> {
  return COMMANDS[invocation.command](context, invocation);
}

/** An id that may be a task's or a workflow run's: tried as a task first. */
async function taskOrRun(
  id: string, asTask: (id: string) => Promise<Task>, asRun: (id: string) => Promise<WorkflowRun>,
): Promise<{ kind: 'task'; value: Task } | { kind: 'run'; value: WorkflowRun }> {
  try {
    return { kind: 'task', value: await asTask(id) };
  } catch (error) {
    if (!isBerthError(error, 'TASK_NOT_FOUND')) throw error;
  }
  try {
    return { kind: 'run', value: await asRun(id) };
  } catch (error) {
    if (!isBerthError(error, 'WORKFLOW_RUN_NOT_FOUND')) throw error;
    throw new ClientCliError(EXIT.refused, `no task or workflow run has the id '${id}'`);
  }
}

/**
 * A listing's query from the options. The status is passed as typed, unchecked: Berth's 400 names
 * the statuses it takes, for tasks and runs alike.
 */
function pageQuery<Q>(invocation: ClientInvocation): Q {
  // Tasks are filtered by the id of their workflow run (`workflowId`), runs by the workflow's name.
  const { workflow, ...filter } = invocation.filter;
  const byWorkflow = workflow === undefined ? {} : invocation.command === 'tasks' ? { workflowId: workflow } : { workflow };
  return { ...filter, ...byWorkflow, limit: invocation.limit, ...optional('cursor', invocation.cursor) } as Q;
}

function printReceipt(terminal: Terminal, invocation: ClientInvocation, kind: 'task' | 'run', id: string, status: string, value: unknown): number {
  if (invocation.json) terminal.out(json(terminal, value));
  // A pipe gets the bare id, for `id=$(berth submit …)`.
  else terminal.out(terminal.outIsTTY ? `${kind} ${id} ${status} (berth status ${id})\n` : `${id}\n`);
  return EXIT.ok;
}

function printList(terminal: Terminal, invocation: ClientInvocation, page: { nextCursor: string | null }, table: string): number {
  if (invocation.json) {
    terminal.out(json(terminal, page));
    return EXIT.ok;
  }
  terminal.out(table);
  if (page.nextCursor !== null && terminal.outIsTTY) {
    const filter = Object.entries(invocation.filter).map(([name, value]) => ` --${name} ${value}`).join('');
    terminal.err(`more: berth ${invocation.command}${filter} --limit ${invocation.limit} --cursor ${page.nextCursor}\n`);
  }
  return EXIT.ok;
}

interface Waited<T> { readonly state: T; readonly timedOut: boolean }

/**
 * Waits until `isFinal`, `timeout` seconds at most, calling `onProgress` with every state seen.
 * `waitFor(seconds)` is the SDK's wait (WAIT_TIMEOUT when not final by then, with the last state).
 */
async function waitWithProgress<T>(
  first: T, isFinal: (state: T) => boolean, waitFor: (seconds: number | undefined) => Promise<T>,
  options: { timeout: number | undefined; progress: boolean }, onProgress: (state: T) => void,
): Promise<Waited<T>> {
  const deadline = options.timeout === undefined ? Infinity : Date.now() + options.timeout * 1000;
  let state = first;
  onProgress(state);
  while (!isFinal(state)) {
    const remaining = (deadline - Date.now()) / 1000;
    if (remaining <= 0) return { state, timedOut: true };
    const slice = options.progress ? Math.min(PROGRESS_SECONDS, remaining) : remaining;
    try {
      state = await waitFor(Number.isFinite(slice) ? slice : undefined);
    } catch (error) {
      if (!isBerthError(error, 'WAIT_TIMEOUT')) throw error;
      state = (error.last as T | undefined) ?? state;
    }
    onProgress(state);
  }
  return { state, timedOut: false };
}

async function waitForTask(context: CommandContext, invocation: ClientInvocation, task: Task): Promise<Waited<Task>> {
  const { client, terminal } = context;
  const waitFor = (seconds: number | undefined): Promise<Task> => client.tasks.wait(task.id, seconds === undefined ? {} : { timeout: seconds });
  if (invocation.follow) {
    // The log stream ends when the task does; --timeout cuts it short.
    const started = Date.now();
    const signal = invocation.timeout === undefined ? undefined : AbortSignal.timeout(invocation.timeout * 1000);
    try {
      for await (const chunk of client.tasks.logs(task.id, { follow: true, ...optional('signal', signal) })) terminal.err(chunk);
    } catch (error) {
      // A stream the server closed early (a restart) leaves the rest to the wait below.
      if (signal?.aborted !== true && !isBerthError(error, 'NETWORK_ERROR')) throw error;
    }
    const left = invocation.timeout === undefined ? undefined : Math.max(0, invocation.timeout - (Date.now() - started) / 1000);
    return waitWithProgress(await client.tasks.get(task.id), isFinalTask, waitFor, { timeout: left, progress: false }, () => undefined);
  }
  const label = (state: Task): string => `task ${state.id.slice(0, 8)} (${state.runner}) ${state.status}`;
  const spinner = startSpinner(terminal, label(task));
  try {
    return await waitWithProgress(task, isFinalTask, waitFor, { timeout: invocation.timeout, progress: terminal.errIsTTY }, (state) => spinner.update(label(state)));
  } finally {
    spinner.stop();
  }
}

async function waitForRun(context: CommandContext, invocation: ClientInvocation, run: WorkflowRun): Promise<Waited<WorkflowRun>> {
  const { client, terminal } = context;
  const waitFor = (seconds: number | undefined): Promise<WorkflowRun> => client.workflows.wait(run.id, seconds === undefined ? {} : { timeout: seconds });
  const label = (state: WorkflowRun): string => {
    const done = state.steps.filter((step) => !['pending', 'queued', 'running'].includes(step.status)).length;
    return `run ${state.id.slice(0, 8)} (${state.workflow}) ${state.status}, ${done}/${state.steps.length} steps done`;
  };
  // --follow: a line for each step whose status changed, instead of the spinner.
  const seen = new Map<string, string>();
  const printChanges = (state: WorkflowRun): void => {
    for (const step of state.steps) {
      if (seen.get(step.id) === step.status) continue;
      seen.set(step.id, step.status);
      terminal.err(`step ${step.id}: ${step.status}${step.error === null ? '' : ` (${step.error.code}: ${step.error.message})`}\n`);
    }
  };
  const spinner = invocation.follow ? { update: () => undefined, stop: () => undefined } : startSpinner(terminal, label(run));
  try {
    return await waitWithProgress(run, isFinalRun, waitFor, { timeout: invocation.timeout, progress: invocation.follow || terminal.errIsTTY },
      (state) => (invocation.follow ? printChanges(state) : spinner.update(label(state))));
  } finally {
    spinner.stop();
  }
}

function reportTask(terminal: Terminal, invocation: ClientInvocation, { state: task, timedOut }: Waited<Task>): number {
  if (invocation.json) terminal.out(json(terminal, task));
  if (timedOut) return stillGoing(terminal, invocation, 'task', task.id, task.status);
  if (task.status === 'succeeded' && !invocation.json) terminal.out(formatValue(terminal, task.output));
  if (task.status === 'failed') terminal.err(`berth: task ${task.id} failed: ${task.error?.code}: ${task.error?.message}\n`);
  if (task.status === 'cancelled') terminal.err(`berth: task ${task.id} was cancelled\n`);
  return exitForStatus(task.status);
}

function reportRun(terminal: Terminal, invocation: ClientInvocation, { state: run, timedOut }: Waited<WorkflowRun>): number {
  if (invocation.json) terminal.out(json(terminal, run));
  if (timedOut) return stillGoing(terminal, invocation, 'run', run.id, run.status);
  if (run.status === 'succeeded' && !invocation.json) terminal.out(formatValue(terminal, run.output));
  if (run.status === 'failed') {
    const at = run.error === null ? '' : ` at step ${run.error.step}: ${run.error.code}: ${run.error.message}`;
    terminal.err(`berth: workflow run ${run.id} failed${at}\n`);
  }
  if (run.status === 'cancelled') terminal.err(`berth: workflow run ${run.id} was cancelled\n`);
  return exitForStatus(run.status);
}

function stillGoing(terminal: Terminal, invocation: ClientInvocation, kind: string, id: string, status: string): number {
  terminal.err(`berth: ${kind} ${id} is still ${status} after ${formatSeconds(invocation.timeout ?? 0)}; it goes on (berth status ${id})\n`);
  return EXIT.waitTimedOut;
}

function json(terminal: Terminal, value: unknown): string {
  return `${JSON.stringify(value, null, terminal.outIsTTY ? 2 : undefined)}\n`;
}

/** `{ [key]: value }`, or nothing when value is undefined (the SDK's options take no explicit undefined). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
