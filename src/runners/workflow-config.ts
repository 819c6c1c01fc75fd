/**
 * The `workflows:` section of the runners file, resolved on top of the shape check
 * (runner-config-schema.ts): each step's runner checked against the runners section, its needs
 * against the workflow's steps (and for cycles, step-graph.ts), its pointers against what its
 * envelope ({input, parents}, plus item and index for a for_each step) will hold, and the steps
 * put in dependency order.
 */
import { checkName } from './config-names.ts';
import { resolveInputSchema } from './input-schema.ts';
import { isMapping, type Mapping, type ProblemReporter } from './runner-config-schema.ts';
import type { StepCondition, Workflow, WorkflowStep } from './runner.ts';
import { dependencyOrder, findCycles } from './step-graph.ts';
import { checkUrl } from './webhook-config.ts';
import { isJsonPointer, pointerTokens } from '../json-pointer.ts';

const DEFAULT_MAX_ITEMS = 1000;
const SUCCEEDED: StepCondition = Object.freeze({ kind: 'succeeded' });
const ALWAYS: StepCondition = Object.freeze({ kind: 'always' });

/** Every workflow is resolved, even one with problems, so that all of a file's problems surface. */
export function resolveWorkflows(section: unknown, runnerNames: ReadonlySet<string>, context: ProblemReporter): Map<string, Workflow> {
  const workflows = new Map<string, Workflow>();
  if (!isMapping(section)) return workflows;
  for (const [name, entry] of Object.entries(section)) {
    checkName('workflow name', name, ['workflows', name], context);
    workflows.set(name, resolveWorkflow(name, isMapping(entry) ? entry : {}, runnerNames, context));
  }
  return workflows;
}

function resolveWorkflow(name: string, entry: Mapping, runnerNames: ReadonlySet<string>, context: ProblemReporter): Workflow {
  const at = (...keys: string[]) => ['workflows', name, ...keys];
  const section = isMapping(entry['steps']) ? entry['steps'] : {};
  const ids = new Set(Object.keys(section));
  const declared = Object.entries(section).map(([id, step]) => {
    checkName('step id', id, at('steps', id), context);
    return resolveStep(id, isMapping(step) ? step : {}, { ids, runnerNames, at: (...keys) => at('steps', id, ...keys), context });
  });
  for (const cycle of findCycles(declared)) {
    context.report(at('steps', cycle[0]!, 'needs'), `needs form a cycle: ${[...cycle, cycle[0]].join(' → ')}`);
  }
  const needed = new Set(declared.flatMap((step) => step.needs));
  return Object.freeze({
    name,
    steps: Object.freeze(dependencyOrder(declared)),
    sinks: Object.freeze(declared.filter((step) => !needed.has(step.id)).map((step) => step.id)),
    ...resolveInputSchema(entry['input_schema'], at('input_schema'), context),
    callback: checkUrl(entry['callback'], at('callback'), context),
  });
}

interface StepContext {
  /** The ids of the workflow's steps. */
  readonly ids: ReadonlySet<string>;
  readonly runnerNames: ReadonlySet<string>;
  /** The path of one of the step's keys. */
  readonly at: (...keys: string[]) => string[];
  readonly context: ProblemReporter;
}

/** Values of the wrong type were reported by the shape check and are taken as absent here. */
function resolveStep(id: string, entry: Mapping, step: StepContext): WorkflowStep {
  const { at, context } = step;
  const runner = typeof entry['runner'] === 'string' ? entry['runner'] : '';
  if (runner !== '' && !step.runnerNames.has(runner)) context.report(at('runner'), `no runner named '${runner}'`);
  const needs = resolveNeeds(id, entry['needs'], step);
  const forEach = typeof entry['for_each'] === 'string' ? entry['for_each'] : undefined;
  // Only the elements' tasks have an item and an index; for_each itself picks the array they come from.
  if (forEach !== undefined) checkPointer(forEach, needs, false, at('for_each'), context);
  const input = isMapping(entry['input']) ? stringValues(entry['input']) : undefined;
  for (const [key, pointer] of Object.entries(input ?? {})) checkPointer(pointer, needs, forEach !== undefined, at('input', key), context);
  if (entry['max_items'] !== undefined && entry['for_each'] === undefined) context.report(at('max_items'), 'only applies to a step with for_each');
  return Object.freeze({
    id,
    runner,
    needs,
    when: resolveCondition(entry, needs, step),
    input,
    forEach,
    maxItems: typeof entry['max_items'] === 'number' ? entry['max_items'] : DEFAULT_MAX_ITEMS,
  });
}

function resolveNeeds(id: string, value: unknown, { ids, at, context }: StepContext): readonly string[] {
  const needs: string[] = [];
  (Array.isArray(value) ? value : []).forEach((need: unknown, index) => {
    if (typeof need !== 'string') return;
    const path = at('needs', String(index));
    if (need === id) context.report(path, 'a step cannot need itself');
    else if (!ids.has(need)) context.report(path, `no step named '${need}'`);
    else if (needs.includes(need)) context.report(path, `'${need}' is already listed`);
    needs.push(need);
  });
  return Object.freeze(needs);
}

function resolveCondition(entry: Mapping, needs: readonly string[], { at, context }: StepContext): StepCondition {
  const min = entry['min_succeeded'];
  // A value that is not a positive integer was reported by the shape check.
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 1) return entry['when'] === 'always' ? ALWAYS : SUCCEEDED;
  const parents = new Set(needs).size;
  if (entry['when'] !== undefined) context.report(at('min_succeeded'), 'cannot be used with when: it is a condition of its own');
  if (parents === 0) context.report(at('min_succeeded'), 'only applies to a step with needs');
  else if (min > parents) context.report(at('min_succeeded'), `must not exceed the number of steps it needs (${parents})`);
  return Object.freeze({ kind: 'min_succeeded', minSucceeded: min });
}

/**
 * A pointer must reach into the step's envelope: /input (the run's input), /parents/<id> (the
 * output of a step it needs: nothing else is there) and, for a for_each step's input, /item (its
 * element) or /index (the element's position, a number, so nothing is below it).
 */
function checkPointer(pointer: string, needs: readonly string[], element: boolean, path: string[], context: ProblemReporter): void {
  const roots = element ? '/input, /parents/<a step it needs>, /item or /index' : '/input or /parents/<a step it needs>';
  if (!isJsonPointer(pointer)) {
    context.report(path, `must be a JSON Pointer starting with ${roots}`);
    return;
  }
  const [root, parent] = pointerTokens(pointer);
  if (root === 'input' || (element && root === 'item')) return;
  if (element && root === 'index') {
    if (parent !== undefined) context.report(path, '/index is a number: nothing is below it');
  } else if (root === 'parents' && parent !== undefined) {
    if (!needs.includes(parent)) context.report(path, `points into the output of '${parent}', a step this step does not need`);
  } else {
    context.report(path, `must start with ${roots}`);
  }
}

/** A mapping the shape check found to hold only strings (or reported), as a frozen record of its strings. */
function stringValues(mapping: Mapping): Readonly<Record<string, string>> {
  // fromEntries defines own properties, so even a key such as "__proto__" stays a key.
  return Object.freeze(Object.fromEntries(Object.entries(mapping).filter((entry): entry is [string, string] => typeof entry[1] === 'string')));
}
