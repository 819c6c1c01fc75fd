/**
 * Moves a workflow run on. Every function runs inside a transaction of the task lifecycle that has
 * already locked the run's row (lockRun), so a run changes one transaction at a time:
 * - start: the run, its steps, and the tasks of the steps that need nothing;
 * - taskFinal: a step's task became final. When that was the step's last unfinished task, the step
 *   is final: each child records it (a row per child and parent), and the child whose last parent
 *   that was is released (its tasks queued) or skipped, in this same transaction; skips and steps
 *   that fail before running cascade the same way. When no step is left unfinished, the run ends;
 * - cancel and retry of a whole run.
 * A released step runs once: only the transaction that records its last parent sees it complete,
 * and it releases the step only while the step is pending.
 */
import type { PoolClient } from '../db.ts';
import type { ErrorDetail } from '../errors.ts';
import type { RunnersConfig, WorkflowStep } from '../runners/runner.ts';
import { newTaskId } from './task-id.ts';
import type { NewTask } from './task-store.ts';
import {
  activateStep, cancelSteps, countUnfinishedStepTasks, findSteps, finishRun, finishStep, insertRun, parentsSeen, recordParentFinal,
  reopenRun, resetSteps, stepTasks, unfinishedTasks, type LockedRun, type NewRun, type StepRow,
} from './workflow-store.ts';
import {
  envelope, invalidInputMessage, runOutcome, shouldRun, skipReason, stepInputs, stepResult, type StepResult,
} from './workflow-steps.ts';

/** What the task lifecycle does for a run's steps, in the caller's transaction. */
export interface StepTasks {
  /** new → queued, with their jobs. */
  queue(client: PoolClient, tasks: readonly NewTask[]): Promise<void>;
  /** new → failed (invalid_input), with why for each. */
  reject(client: PoolClient, tasks: readonly (NewTask & { readonly message: string })[]): Promise<void>;
  /** queued | running → cancelled, each with what follows for the task itself (its worker stops it). */
  cancel(client: PoolClient, taskIds: readonly string[]): Promise<void>;
  /** What follows a run's end (`endedAt` identifies it: a retried run may end again): its event, and its callback. */
  runFinal(client: PoolClient, run: LockedRun, endedAt: Date): Promise<void>;
  /** `fn` in a savepoint: when it fails, its changes and what the lifecycle observed in it are taken back, and `onError` answers. */
  savepoint<T>(client: PoolClient, fn: () => Promise<T>, onError: (error: unknown) => T): Promise<T>;
}

export interface WorkflowProgress {
  start(client: PoolClient, run: NewRun, input: unknown): Promise<void>;
  taskFinal(client: PoolClient, run: LockedRun, step: { stepId: string; generation: number }): Promise<void>;
  /** false when the run is already final. */
  cancel(client: PoolClient, run: LockedRun): Promise<boolean>;
  /** false when the run has not failed. */
  retry(client: PoolClient, run: LockedRun): Promise<boolean>;
}

type Steps = Map<string, StepRow>;

/**
 * Longest stdin a step's task gets. The envelope repeats its parents' outputs for every for_each
 * element, so without a bound a wide fan-out of a large output would be gigabytes in one insert.
 */
const MAX_STEP_INPUT_CHARS = 16 * 1024 * 1024;
/** And in all, for the tasks of one step. */
const MAX_STEP_TOTAL_CHARS = 256 * 1024 * 1024;

export function createWorkflowProgress(deps: { runners: RunnersConfig; tasks: StepTasks }): WorkflowProgress {
  const { tasks } = deps;

  async function loadSteps(client: PoolClient, runId: string): Promise<Steps> {
    return new Map((await findSteps(client, runId)).map((row) => [row.stepId, row]));
  }

  /** What a final step's children see of it. */
  async function resultOf(client: PoolClient, run: LockedRun, step: WorkflowStep, row: StepRow): Promise<StepResult> {
    const status = row.status as StepResult['status'];
    if (step.forEach === undefined || status === 'skipped') return { status, output: row.output, error: row.error, ...(step.forEach === undefined ? {} : { items: [] }) };
    const { final } = await stepTasks(client, run.id, step.id, row.generation);
    return { status, output: row.output, error: row.error, items: final.map(({ status: s, output, error }) => ({ status: s, output, error })) };
  }

  /**
   * Makes a step's tasks, or decides it without any: skipped, failed before running (its for_each
   * is not an array, or every task's input is invalid), or an empty for_each. Returns the step's
   * result when it is final at once, else null (its tasks will tell).
   */
  async function release(client: PoolClient, run: LockedRun, steps: Steps, step: WorkflowStep): Promise<StepResult | null> {
    const parents = new Map<string, StepResult>();
    for (const id of step.needs) parents.set(id, await resultOf(client, run, stepById(run, id), steps.get(id)!));
    if (!shouldRun(step, parents)) return { status: 'skipped', output: null, error: { code: 'skipped', message: skipReason(step, parents) } };
    const made = stepInputs(step, envelope(run.input, step, parents));
    if ('invalid' in made) return { status: 'failed', output: null, error: { code: 'invalid_input', message: made.invalid } };
    if (made.inputs.length === 0) return { status: 'succeeded', output: [], error: null, items: [] };
    // Whatever goes wrong writing the step's tasks (an input too large to store, say) is the step's
    // failure, not its parent's: the parent's end, in this same transaction, must stand.
    return deps.tasks.savepoint(client, () => makeTasks(client, run, steps, step, made), (error): StepResult => ({
      status: 'failed', output: null, error: { code: 'invalid_input', message: `the step's tasks could not be stored: ${(error as Error).message}` },
    }));
  }

  async function makeTasks(
    client: PoolClient, run: LockedRun, steps: Steps, step: WorkflowStep, made: { inputs: readonly unknown[]; forEach: boolean },
  ): Promise<StepResult | null> {
    const runner = deps.runners.runners.get(step.runner);
    const generation = steps.get(step.id)!.generation;
    const valid: NewTask[] = [];
    const invalid: (NewTask & { message: string })[] = [];
    let total = 0;
    for (const [index, input] of made.inputs.entries()) {
      const inputJson = JSON.stringify(input ?? null);
      total += inputJson.length;
      if (total > MAX_STEP_TOTAL_CHARS) throw new Error(`its inputs pass ${MAX_STEP_TOTAL_CHARS} characters of JSON in all`);
      const tooLarge = inputJson.length > MAX_STEP_INPUT_CHARS;
      const task: NewTask = {
        // An input too large to run is not kept either: the task says why instead.
        id: newTaskId(), runner: step.runner, inputJson: tooLarge ? 'null' : inputJson, priority: 0, runAfter: null,
        maxAttempts: 1 + (runner?.retries.limit ?? 0), callbackUrl: null, traceparent: run.traceparent,
        step: { workflowId: run.id, stepId: step.id, generation, itemIndex: made.forEach ? index : null },
      };
      const violations: readonly ErrorDetail[] = runner === undefined
        ? [{ path: '', message: `no runner named '${step.runner}' is configured` }]
        : tooLarge
          ? [{ path: '', message: `is ${inputJson.length} characters of JSON, more than a step's task takes (${MAX_STEP_INPUT_CHARS})` }]
          : runner.validateInput(input);
      if (violations.length === 0) valid.push(task);
      else invalid.push({ ...task, message: invalidInputMessage(violations) });
    }
    await activateStep(client, run.id, step.id, made.forEach ? made.inputs.length : null);
    if (valid.length > 0) await tasks.queue(client, valid);
    if (invalid.length > 0) await tasks.reject(client, invalid);
    if (valid.length > 0) return null;
    return stepResult(made.forEach, (await stepTasks(client, run.id, step.id, generation)).final);
  }

  /** A step is final: record it, and move on every step this frees, and theirs in turn. */
  async function complete(client: PoolClient, run: LockedRun, steps: Steps, first: { step: WorkflowStep; result: StepResult }): Promise<void> {
    const work = [first];
    for (let next = work.shift(); next !== undefined; next = work.shift()) {
      const { step, result } = next;
      await finishStep(client, run.id, step.id, result);
      steps.set(step.id, { ...steps.get(step.id)!, status: result.status, output: result.output, error: result.error });
      for (const child of run.definition.steps.filter((s) => s.needs.includes(step.id))) {
        const seen = await recordParentFinal(client, run.id, child.id, step.id);
        if (seen !== child.needs.length || steps.get(child.id)?.status !== 'pending') continue;
        const released = await release(client, run, steps, child);
        if (released !== null) work.push({ step: child, result: released });
        else steps.set(child.id, { ...steps.get(child.id)!, status: 'active' });
      }
    }
  }

  /** Releases these pending steps when every parent is final (all of them, for steps with no needs). */
  async function releaseReady(client: PoolClient, run: LockedRun, steps: Steps, candidates: readonly WorkflowStep[]): Promise<void> {
    const seen = await parentsSeen(client, run.id);
    for (const step of candidates) {
      if ((seen.get(step.id) ?? 0) !== step.needs.length || steps.get(step.id)?.status !== 'pending') continue;
      const released = await release(client, run, steps, step);
      if (released !== null) await complete(client, run, steps, { step, result: released });
      else steps.set(step.id, { ...steps.get(step.id)!, status: 'active' });
    }
  }

  async function finishIfDone(client: PoolClient, run: LockedRun, steps: Steps): Promise<void> {
    if ([...steps.values()].some((row) => row.status === 'pending' || row.status === 'active')) return;
    // Read back in the order they finished (by the database's clock), for the run's error.
    const ordered = await findSteps(client, run.id);
    const outcome = runOutcome(run.definition.sinks, ordered.map((row) => ({ id: row.stepId, result: { status: row.status as StepResult['status'], output: row.output, error: row.error } })));
    const endedAt = await finishRun(client, run.id, outcome.status, outcome.output, outcome.error);
    await tasks.runFinal(client, { ...run, status: outcome.status }, endedAt);
  }

  return {
    async start(client, newRun, input) {
      await insertRun(client, newRun);
      const run: LockedRun = { id: newRun.id, status: 'running', input, definition: newRun.definition, callbackUrl: newRun.callbackUrl,
        traceparent: newRun.traceparent ?? null };
      const steps = await loadSteps(client, run.id);
      await releaseReady(client, run, steps, run.definition.steps.filter((step) => step.needs.length === 0));
      await finishIfDone(client, run, steps);
    },

    async taskFinal(client, run, { stepId, generation }) {
      if (run.status !== 'running') return;
      const steps = await loadSteps(client, run.id);
      const row = steps.get(stepId);
      // A task of an earlier generation (before a retry), or of a step already decided.
      if (row === undefined || row.generation !== generation || row.status !== 'active') return;
      // Every element of a for_each comes by here: only the last one reads the step's outputs.
      if (await countUnfinishedStepTasks(client, run.id, stepId, generation) > 0) return;
      const step = stepById(run, stepId);
      const { final } = await stepTasks(client, run.id, stepId, generation);
      await complete(client, run, steps, { step, result: stepResult(step.forEach !== undefined, final) });
      await finishIfDone(client, run, steps);
    },

    async cancel(client, run) {
      if (run.status !== 'running') return false;
      // First, so that the tasks' own ends below find the run final and move nothing on.
      const endedAt = await finishRun(client, run.id, 'cancelled', null, null);
      await tasks.cancel(client, await unfinishedTasks(client, run.id));
      await cancelSteps(client, run.id);
      await tasks.runFinal(client, { ...run, status: 'cancelled' }, endedAt);
      return true;
    },

    async retry(client, run) {
      if (run.status !== 'failed') return false;
      const before = await loadSteps(client, run.id);
      const again = run.definition.steps.filter((step) => ['failed', 'cancelled', 'skipped'].includes(before.get(step.id)?.status ?? ''));
      await resetSteps(client, run.id, again.map((step) => step.id));
      await reopenRun(client, run.id);
      const reopened: LockedRun = { ...run, status: 'running' };
      const steps = await loadSteps(client, run.id);
      await releaseReady(client, reopened, steps, again);
      await finishIfDone(client, reopened, steps);
      return true;
    },
  };
}

function stepById(run: LockedRun, id: string): WorkflowStep {
  const step = run.definition.steps.find((s) => s.id === id);
  if (step === undefined) throw new Error(`workflow run ${run.id} has no step '${id}'`);
  return step;
}
