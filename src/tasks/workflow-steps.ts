/**
 * What a workflow's steps mean, as pure functions over their results: whether a step whose parents
 * are all final runs or is skipped, the stdin envelope its tasks get, the result of a for_each step
 * from its elements' tasks, and how a run ends. workflow-progress.ts applies them inside the
 * lifecycle's transactions; nothing here reads or writes the database.
 */
import type { ErrorDetail } from '../errors.ts';
import { selectPointer } from '../json-pointer.ts';
import type { WorkflowStep } from '../runners/runner.ts';

export type StepFinalStatus = 'succeeded' | 'failed' | 'cancelled' | 'skipped';

export interface StepError {
  readonly code: string;
  readonly message: string;
}

/** A final step as its children see it: `items` only for a for_each step. */
export interface StepResult {
  readonly status: StepFinalStatus;
  readonly output: unknown;
  readonly error: StepError | null;
  readonly items?: readonly ItemResult[];
}

export interface ItemResult {
  readonly status: string;
  readonly output: unknown;
  readonly error: StepError | null;
}

/** A final task of a step, as read back from berth.tasks. */
export interface StepTaskResult extends ItemResult {
  readonly itemIndex: number | null;
}

/** Whether a step whose parents are all final runs; `parents` has every one of its needs. */
export function shouldRun(step: WorkflowStep, parents: ReadonlyMap<string, StepResult>): boolean {
  const succeeded = step.needs.filter((id) => parents.get(id)?.status === 'succeeded').length;
  switch (step.when.kind) {
    case 'always':
      return true;
    case 'min_succeeded':
      return succeeded >= step.when.minSucceeded;
    case 'succeeded':
      return succeeded === step.needs.length;
  }
}

/** Why a step did not run, for its error when it is skipped. */
export function skipReason(step: WorkflowStep, parents: ReadonlyMap<string, StepResult>): string {
  if (step.when.kind === 'min_succeeded') {
    const succeeded = step.needs.filter((id) => parents.get(id)?.status === 'succeeded').length;
    return `${succeeded} of its parents succeeded, fewer than min_succeeded ${step.when.minSucceeded}`;
  }
  const blocking = step.needs.filter((id) => parents.get(id)?.status !== 'succeeded');
  return `parent ${blocking.map((id) => `'${id}' ${parents.get(id)?.status ?? 'unknown'}`).join(', ')}`;
}

/** The JSON a step's tasks read on stdin, before its `input:` map (if any) selects from it. */
export function envelope(runInput: unknown, step: WorkflowStep, parents: ReadonlyMap<string, StepResult>): Record<string, unknown> {
  return {
    input: runInput,
    parents: Object.fromEntries(step.needs.map((id) => {
      const parent = parents.get(id)!;
      return [id, { status: parent.status, output: parent.output, error: parent.error, ...(parent.items === undefined ? {} : { items: parent.items }) }];
    })),
  };
}

/** The inputs of a step's tasks: one, or one per for_each element; or why the step cannot run. */
export type StepInputs = { readonly inputs: readonly unknown[]; readonly forEach: boolean } | { readonly invalid: string };

export function stepInputs(step: WorkflowStep, base: Record<string, unknown>): StepInputs {
  if (step.forEach === undefined) return { inputs: [mapEnvelope(step, base)], forEach: false };
  const selected = selectPointer(base, step.forEach);
  if (!selected.found || !Array.isArray(selected.value)) {
    return { invalid: `for_each ${step.forEach} ${selected.found ? 'is not an array' : 'selects nothing'}` };
  }
  if (selected.value.length > step.maxItems) {
    return { invalid: `for_each ${step.forEach} has ${selected.value.length} elements, more than max_items ${step.maxItems}` };
  }
  return { inputs: selected.value.map((item, index) => mapEnvelope(step, { ...base, item, index })), forEach: true };
}

function mapEnvelope(step: WorkflowStep, document: Record<string, unknown>): unknown {
  if (step.input === undefined) return document;
  return Object.fromEntries(Object.entries(step.input).map(([key, pointer]) => {
    const selected = selectPointer(document, pointer);
    return [key, selected.found ? selected.value : null];
  }));
}

/** The violations of a task input, as the message of an invalid_input failure. */
export function invalidInputMessage(violations: readonly ErrorDetail[]): string {
  return `the step's input does not match its runner's input_schema: ${violations.map((v) => `${v.path} ${v.message}`).join('; ')}`;
}

/** A step's result once all its tasks are final. */
export function stepResult(forEach: boolean, tasks: readonly StepTaskResult[]): StepResult {
  if (!forEach) {
    const task = tasks[0]!;
    return { status: task.status as StepFinalStatus, output: task.output, error: task.error };
  }
  const ordered = [...tasks].sort((a, b) => (a.itemIndex ?? 0) - (b.itemIndex ?? 0));
  const items = ordered.map(({ status, output, error }) => ({ status, output, error }));
  // A failure says more than a cancel: the step is cancelled only if no element failed.
  const failed = ordered.find((task) => task.status === 'failed') ?? ordered.find((task) => task.status !== 'succeeded');
  return {
    status: failed === undefined ? 'succeeded' : failed.status === 'cancelled' ? 'cancelled' : 'failed',
    output: ordered.map((task) => task.output),
    error: failed === undefined ? null : {
      code: failed.error?.code ?? failed.status,
      message: `element ${failed.itemIndex}: ${failed.error?.message ?? failed.status}`,
    },
    items,
  };
}

export interface RunOutcome {
  readonly status: 'succeeded' | 'failed';
  readonly output: Record<string, unknown>;
  readonly error: { readonly step: string; readonly code: string; readonly message: string } | null;
}

/**
 * A run whose steps are all final: succeeded when every sink succeeded. Its error names the first
 * step (in finishing order) that failed or was cancelled, or else the first sink that did not succeed.
 */
export function runOutcome(
  sinks: readonly string[], steps: readonly { readonly id: string; readonly result: StepResult }[],
): RunOutcome {
  const byId = new Map(steps.map((step) => [step.id, step.result]));
  const output = Object.fromEntries(sinks.map((id) => [id, byId.get(id)?.output ?? null]));
  if (sinks.every((id) => byId.get(id)?.status === 'succeeded')) return { status: 'succeeded', output, error: null };
  const culprit = steps.find((step) => step.result.status === 'failed' || step.result.status === 'cancelled')
    ?? steps.find((step) => sinks.includes(step.id) && step.result.status !== 'succeeded')!;
  const error = culprit.result.error ?? { code: culprit.result.status, message: `step '${culprit.id}' was ${culprit.result.status}` };
  return { status: 'failed', output, error: { step: culprit.id, code: error.code, message: error.message } };
}
