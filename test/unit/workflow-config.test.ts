import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config-error.ts';
import { parseRunnersConfig } from '../../src/runners/load-runners.ts';
import type { Workflow } from '../../src/runners/runner.ts';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const RUNNERS = `
runners:
  setup: { image: busybox }
  scanner: { image: busybox }
  worker: { image: busybox }
  aggregator: { image: busybox }
`;

function parse(text: string) {
  return parseRunnersConfig(text, { env: {}, source: 'berth.yaml' });
}

function workflow(text: string, name = 'w'): Workflow {
  return parse(text).workflows?.get(name) ?? assert.fail(`no workflow ${name}`);
}

function problems(text: string): readonly string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return assert.fail('expected a ConfigError');
}

/** The runners above and the start of a workflow `w`, for steps in block style. */
const STEPS_OF_W = `${RUNNERS}workflows:\n  w:\n    steps:\n`;

/** The runners above and one workflow `w` with these steps (a YAML flow mapping). */
const withSteps = (steps: string) => `${RUNNERS}workflows: { w: { steps: ${steps} } }\n`;

/** The workflow's data, without the validateInput function. */
function data({ validateInput: _, ...rest }: Workflow) {
  return rest;
}

test('a valid workflow resolves every field, its steps in dependency order and its sinks in file order', () => {
  const config = parse(`${RUNNERS}
workflows:
  scan-and-merge:
    input_schema: { type: object, required: [items], properties: { items: { type: array } } }
    steps:
      merge:  { runner: aggregator, needs: [scan-a, scan-b, each], when: always }
      scan-b: { runner: scanner, needs: [setup], input: { target: /input/b, config: /parents/setup/config } }
      each:
        runner: worker
        needs: [setup]
        for_each: /input/items
        max_items: 50
        input: { item: /item/name, index: /index, base: /parents/setup, run: /input }
      setup:  { runner: setup }
      scan-a: { runner: scanner, needs: [setup], when: succeeded }
      report: { runner: aggregator, needs: [scan-a, scan-b], min_succeeded: 1 }
    callback: https://hooks.example.com/berth
callbacks:
  endpoints: [{ url: "https://hooks.example.com/", secret: "${SECRET}" }]
`);
  assert.deepEqual([...(config.workflows?.keys() ?? [])], ['scan-and-merge']);
  const flow = config.workflows?.get('scan-and-merge') ?? assert.fail();
  assert.deepEqual(data(flow), {
    name: 'scan-and-merge',
    steps: [
      { id: 'setup', runner: 'setup', needs: [], when: { kind: 'succeeded' }, input: undefined, forEach: undefined, maxItems: 1000 },
      {
        id: 'scan-b', runner: 'scanner', needs: ['setup'], when: { kind: 'succeeded' },
        input: { target: '/input/b', config: '/parents/setup/config' }, forEach: undefined, maxItems: 1000,
      },
      {
        id: 'each', runner: 'worker', needs: ['setup'], when: { kind: 'succeeded' },
        input: { item: '/item/name', index: '/index', base: '/parents/setup', run: '/input' }, forEach: '/input/items', maxItems: 50,
      },
      { id: 'scan-a', runner: 'scanner', needs: ['setup'], when: { kind: 'succeeded' }, input: undefined, forEach: undefined, maxItems: 1000 },
      {
        id: 'merge', runner: 'aggregator', needs: ['scan-a', 'scan-b', 'each'], when: { kind: 'always' },
        input: undefined, forEach: undefined, maxItems: 1000,
      },
      {
        id: 'report', runner: 'aggregator', needs: ['scan-a', 'scan-b'], when: { kind: 'min_succeeded', minSucceeded: 1 },
        input: undefined, forEach: undefined, maxItems: 1000,
      },
    ],
    sinks: ['merge', 'report'],
    inputSchema: { type: 'object', required: ['items'], properties: { items: { type: 'array' } } },
    callback: 'https://hooks.example.com/berth',
  });
  assert.deepEqual(flow.validateInput({ items: [] }), []);
  assert.deepEqual(flow.validateInput({ items: 'x' }), [{ path: '/input/items', message: 'must be array' }]);
});

test('steps already in dependency order keep the file order, independent ones included', () => {
  const flow = workflow(withSteps(`{
    setup: { runner: setup }, scan-a: { runner: scanner, needs: [setup] }, scan-b: { runner: scanner, needs: [setup] },
    each: { runner: worker, needs: [setup], for_each: /input/items }, merge: { runner: aggregator, needs: [scan-a, scan-b, each], when: always } }`));
  assert.deepEqual(flow.steps.map((step) => step.id), ['setup', 'scan-a', 'scan-b', 'each', 'merge']);
  assert.deepEqual(flow.sinks, ['merge']);
});

test('a chain declared backwards is reversed, and a step moves only as far as its needs make it', () => {
  const flow = workflow(withSteps(`{
    c: { runner: worker, needs: [b] }, x: { runner: worker }, b: { runner: worker, needs: [a] }, a: { runner: worker }, y: { runner: worker } }`));
  assert.deepEqual(flow.steps.map((step) => step.id), ['x', 'a', 'b', 'c', 'y']);
  assert.deepEqual(flow.sinks, ['c', 'x', 'y']);
});

test('omitted fields take their defaults; a file without workflows has an empty map', () => {
  const flow = workflow(withSteps('{ only: { runner: worker } }'));
  assert.deepEqual(data(flow), {
    name: 'w',
    steps: [{ id: 'only', runner: 'worker', needs: [], when: { kind: 'succeeded' }, input: undefined, forEach: undefined, maxItems: 1000 }],
    sinks: ['only'],
    inputSchema: undefined,
    callback: undefined,
  });
  assert.deepEqual(flow.validateInput({ anything: 1 }), []);
  const none = parse(RUNNERS).workflows;
  assert.ok(none instanceof Map);
  assert.equal(none.size, 0);
});

test('the workflows are frozen', () => {
  const flow = workflow(`${RUNNERS}
workflows:
  w:
    input_schema: { type: object, properties: { a: { type: string } } }
    steps:
      a: { runner: worker, input: { k: /input/k } }
      b: { runner: worker, needs: [a], min_succeeded: 1, for_each: /parents/a }
`);
  const [a, b] = flow.steps;
  for (const value of [flow, flow.steps, flow.sinks, flow.inputSchema, flow.inputSchema?.['properties'], a, a?.needs, a?.input, a?.when, b, b?.needs, b?.when]) {
    assert.ok(value !== undefined && Object.isFrozen(value));
  }
});

test('a step names a runner of the file', () => {
  assert.deepEqual(problems(withSteps('{ a: { runner: scaner }, b: { needs: [a] } }')), [
    "workflows.w.steps.a.runner: no runner named 'scaner'",
    'workflows.w.steps.b.runner: is required',
  ]);
});

test('needs name other steps of the workflow, each once', () => {
  assert.deepEqual(problems(`${RUNNERS}
workflows:
  scan-and-merge:
    steps:
      scan-a: { runner: scanner }
      merge: { runner: aggregator, needs: [scan-a, scan-c, merge, scan-a] }
`), [
    "workflows.scan-and-merge.steps.merge.needs.1: no step named 'scan-c'",
    'workflows.scan-and-merge.steps.merge.needs.2: a step cannot need itself',
    "workflows.scan-and-merge.steps.merge.needs.3: 'scan-a' is already listed",
  ]);
  assert.deepEqual(problems(withSteps('{ a: { runner: worker, needs: a } }')), ['workflows.w.steps.a.needs: must be a list']);
});

test('a step needed by another workflow is not a step of this one', () => {
  assert.deepEqual(problems(`${RUNNERS}workflows: { v: { steps: { a: { runner: worker } } }, w: { steps: { b: { runner: worker, needs: [a] } } } }`), [
    "workflows.w.steps.b.needs.0: no step named 'a'",
  ]);
});

test('needs that form a cycle are reported once per cycle, naming it from its first step in the file', () => {
  assert.deepEqual(problems(withSteps('{ a: { runner: worker, needs: [b] }, b: { runner: worker, needs: [c] }, c: { runner: worker, needs: [a] } }')), [
    'workflows.w.steps.a.needs: needs form a cycle: a → b → c → a',
  ]);
  // The walk starts at d, outside the cycle, and enters it at b; the cycle still reads from a.
  assert.deepEqual(problems(withSteps(`{
    d: { runner: worker, needs: [b] }, a: { runner: worker, needs: [b] }, b: { runner: worker, needs: [c] }, c: { runner: worker, needs: [a] } }`)), [
    'workflows.w.steps.a.needs: needs form a cycle: a → b → c → a',
  ]);
  assert.deepEqual(problems(withSteps(`{
    a: { runner: worker, needs: [b] }, b: { runner: worker, needs: [a] },
    c: { runner: worker }, d: { runner: worker, needs: [c, e] }, e: { runner: worker, needs: [d] } }`)), [
    'workflows.w.steps.a.needs: needs form a cycle: a → b → a',
    'workflows.w.steps.d.needs: needs form a cycle: d → e → d',
  ]);
  // Two cycles through one step: each is named, neither twice.
  assert.deepEqual(problems(withSteps('{ a: { runner: worker, needs: [b, c] }, b: { runner: worker, needs: [a] }, c: { runner: worker, needs: [a] } }')), [
    'workflows.w.steps.a.needs: needs form a cycle: a → b → a',
    'workflows.w.steps.a.needs: needs form a cycle: a → c → a',
  ]);
});

test('pointers must be JSON Pointers', () => {
  assert.deepEqual(problems(withSteps('{ a: { runner: worker, for_each: input/items, input: { k: "/input/~2" } } }')), [
    'workflows.w.steps.a.for_each: must be a JSON Pointer starting with /input or /parents/<a step it needs>',
    'workflows.w.steps.a.input.k: must be a JSON Pointer starting with /input, /parents/<a step it needs>, /item or /index',
  ]);
  assert.deepEqual(problems(withSteps('{ a: { runner: worker, input: { k: items } } }')), [
    'workflows.w.steps.a.input.k: must be a JSON Pointer starting with /input or /parents/<a step it needs>',
  ]);
});

test('pointers reach only into the envelope: the input, the parents the step needs, and a for_each element', () => {
  assert.deepEqual(problems(`${STEPS_OF_W}      a: { runner: worker }
      b: { runner: worker, input: { all: "", parents: /parents, output: /output/x, item: /item, index: /index, tilde: /parents/a~1b } }
      c: { runner: worker, needs: [a], for_each: /item, input: { i: /index/0, other: /parents/b/x, mine: /parents/a/x, e: /item/0, n: /index } }
      d: { runner: worker, needs: [a], for_each: /parents/b }
`), [
    'workflows.w.steps.b.input.all: must start with /input or /parents/<a step it needs>',
    'workflows.w.steps.b.input.parents: must start with /input or /parents/<a step it needs>',
    'workflows.w.steps.b.input.output: must start with /input or /parents/<a step it needs>',
    'workflows.w.steps.b.input.item: must start with /input or /parents/<a step it needs>',
    'workflows.w.steps.b.input.index: must start with /input or /parents/<a step it needs>',
    "workflows.w.steps.b.input.tilde: points into the output of 'a/b', a step this step does not need",
    'workflows.w.steps.c.for_each: must start with /input or /parents/<a step it needs>',
    'workflows.w.steps.c.input.i: /index is a number: nothing is below it',
    "workflows.w.steps.c.input.other: points into the output of 'b', a step this step does not need",
    "workflows.w.steps.d.for_each: points into the output of 'b', a step this step does not need",
  ]);
});

test('min_succeeded counts needs: not with when, not without needs, not above their number', () => {
  assert.deepEqual(problems(`${STEPS_OF_W}      a: { runner: worker }
      b: { runner: worker }
      both: { runner: worker, needs: [a, b], min_succeeded: 1, when: always }
      alone: { runner: worker, min_succeeded: 1 }
      many: { runner: worker, needs: [a, b], min_succeeded: 3 }
      twice: { runner: worker, needs: [a, a], min_succeeded: 2 }
      zero: { runner: worker, needs: [a], min_succeeded: 0 }
      all: { runner: worker, needs: [a, b], min_succeeded: 2 }
`), [
    'workflows.w.steps.both.min_succeeded: cannot be used with when: it is a condition of its own',
    'workflows.w.steps.alone.min_succeeded: only applies to a step with needs',
    'workflows.w.steps.many.min_succeeded: must not exceed the number of steps it needs (2)',
    "workflows.w.steps.twice.needs.1: 'a' is already listed",
    'workflows.w.steps.twice.min_succeeded: must not exceed the number of steps it needs (1)',
    'workflows.w.steps.zero.min_succeeded: must be a positive integer',
  ]);
});

test('when and max_items take only their values; max_items only with for_each', () => {
  assert.deepEqual(problems(`${STEPS_OF_W}      a: { runner: worker, when: failed, max_items: 5 }
      b: { runner: worker, for_each: /input/x, max_items: 10001 }
      c: { runner: worker, for_each: /input/x, max_items: 0 }
      d: { runner: worker, for_each: /input/x, max_items: 10000 }
`), [
    'workflows.w.steps.a.when: must be one of: succeeded, always',
    'workflows.w.steps.a.max_items: only applies to a step with for_each',
    'workflows.w.steps.b.max_items: must be an integer from 1 to 10000',
    'workflows.w.steps.c.max_items: must be an integer from 1 to 10000',
  ]);
});

test('a workflow has at least one step', () => {
  assert.deepEqual(problems(`${RUNNERS}workflows: { a: { steps: {} }, b: { callback: "https://x.example" }, c: { steps: [a] }, d: {} }`), [
    'workflows.a.steps: must declare at least one step',
    'workflows.b.steps: is required',
    'workflows.b.callback: needs a callbacks section (with endpoints and their secrets)',
    'workflows.c.steps: must be a mapping of step ids to steps',
    'workflows.d.steps: is required',
  ]);
  assert.deepEqual(problems(`${RUNNERS}workflows: [a]`), ['workflows: must be a mapping of workflow names to workflows']);
  assert.deepEqual(problems(`${RUNNERS}workflows:`), ['workflows: must be a mapping of workflow names to workflows']);
});

test('workflow names and step ids follow the pattern of runner names', () => {
  const rule = "use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit";
  assert.deepEqual(problems(`${RUNNERS}workflows: { "scan and merge": { steps: { "-a": { runner: worker }, "b/c": { runner: worker } } }, ok.1: { steps: { A_b: { runner: worker } } } }`), [
    `workflows.scan and merge: invalid workflow name: ${rule}`,
    `workflows.scan and merge.steps.-a: invalid step id: ${rule}`,
    `workflows.scan and merge.steps.b/c: invalid step id: ${rule}`,
  ]);
});

test('a duplicate step id is a YAML error at its line', () => {
  const text = [
    'runners: { worker: { image: busybox } }',
    'workflows:',
    '  w:',
    '    steps:',
    '      a: { runner: worker }',
    '      a: { runner: worker, needs: [a] }',
  ].join('\n');
  assert.deepEqual(problems(text), ['line 6, column 7: Map keys must be unique']);
});

test('unknown keys are errors in workflows and steps', () => {
  assert.deepEqual(problems(`${STEPS_OF_W}      a: { runner: worker, need: [b], foreach: /input/x }
    output: a
workflow: {}
`), [
    'workflows.w.steps.a.need: unknown key',
    'workflows.w.steps.a.foreach: unknown key',
    'workflows.w.output: unknown key',
    'workflow: unknown key',
  ]);
});

test('input_schema is compiled as a runner\'s is; callback is checked as a runner\'s is', () => {
  assert.deepEqual(problems(`${RUNNERS}
workflows:
  a: { input_schema: { type: object, propertees: {} }, steps: { s: { runner: worker } }, callback: "ftp://x" }
  b: { input_schema: { $async: true }, steps: { s: { runner: worker } } }
  c: { input_schema: [object], steps: { s: { runner: worker } } }
  d: { steps: { s: { runner: worker } }, callback: "https://hooks.example.com/berth" }
`), [
    'workflows.a.input_schema: invalid JSON Schema: strict mode: unknown keyword: "propertees"',
    'workflows.a.callback: must be an http:// or https:// URL',
    'workflows.b.input_schema: invalid JSON Schema: $async schemas are not supported',
    'workflows.c.input_schema: must be a mapping (a JSON Schema)',
    'workflows.d.callback: needs a callbacks section (with endpoints and their secrets)',
  ]);
});

test('every problem of a workflows section is listed at once, with its path, in file order', () => {
  assert.throws(() => parse(`${RUNNERS}
workflows:
  scan-and-merge:
    steps:
      setup: { runner: setup, needs: [merge] }
      scan-a: { runner: scaner, needs: [setup] }
      each: { runner: worker, needs: [setup], for_each: /parents/scan-a, max_items: 0 }
      merge: { runner: aggregator, needs: [scan-a, scan-c, each], when: always, min_succeeded: 4 }
      tail: { runner: worker, max_items: 3, input: { x: /item } }
    callback: not a url
    extra: 1
  "-bad": { steps: {} }
`), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual(error.problems, [
      'workflows.scan-and-merge.steps.setup.needs: needs form a cycle: setup → merge → scan-a → setup',
      'workflows.scan-and-merge.steps.setup.needs: needs form a cycle: setup → merge → each → setup',
      "workflows.scan-and-merge.steps.scan-a.runner: no runner named 'scaner'",
      "workflows.scan-and-merge.steps.each.for_each: points into the output of 'scan-a', a step this step does not need",
      'workflows.scan-and-merge.steps.each.max_items: must be an integer from 1 to 10000',
      "workflows.scan-and-merge.steps.merge.needs.1: no step named 'scan-c'",
      'workflows.scan-and-merge.steps.merge.min_succeeded: cannot be used with when: it is a condition of its own',
      'workflows.scan-and-merge.steps.merge.min_succeeded: must not exceed the number of steps it needs (3)',
      'workflows.scan-and-merge.steps.tail.max_items: only applies to a step with for_each',
      'workflows.scan-and-merge.steps.tail.input.x: must start with /input or /parents/<a step it needs>',
      'workflows.scan-and-merge.callback: must be an http:// or https:// URL',
      'workflows.scan-and-merge.extra: unknown key',
      "workflows.-bad: invalid workflow name: use up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit",
      'workflows.-bad.steps: must declare at least one step',
    ]);
    // What `berth config check` prints: every problem on its own line, after the file's name.
    assert.equal(error.message, error.problems.map((problem) => `berth.yaml: ${problem}`).join('\n'));
    return true;
  });
});
