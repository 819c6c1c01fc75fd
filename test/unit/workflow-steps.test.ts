import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkflowStep } from '../../src/runners/runner.ts';
import {
  envelope, runOutcome, shouldRun, skipReason, stepInputs, stepResult, type StepResult,
} from '../../src/tasks/workflow-steps.ts';

const step = (overrides: Partial<WorkflowStep> = {}): WorkflowStep => ({
  id: 'child', runner: 'echo', needs: ['a', 'b', 'c'], when: { kind: 'succeeded' }, input: undefined, forEach: undefined, maxItems: 1000,
  ...overrides,
});

const result = (status: StepResult['status'], output: unknown = null): StepResult => ({
  status, output, error: status === 'succeeded' ? null : { code: status === 'failed' ? 'nonzero_exit' : status, message: `it ${status}` },
});

const parents = (...statuses: StepResult['status'][]) => new Map(statuses.map((s, i) => [['a', 'b', 'c'][i]!, result(s, i)]));

test('when: succeeded runs only if every parent succeeded; always runs whatever they did', () => {
  assert.equal(shouldRun(step(), parents('succeeded', 'succeeded', 'succeeded')), true);
  for (const other of ['failed', 'cancelled', 'skipped'] as const) {
    assert.equal(shouldRun(step(), parents('succeeded', other, 'succeeded')), false, other);
    assert.equal(shouldRun(step({ when: { kind: 'always' } }), parents(other, other, other)), true, other);
  }
  assert.match(skipReason(step(), parents('succeeded', 'failed', 'skipped')), /'b' failed, 'c' skipped/);
});

test('min_succeeded: N runs when at least N parents succeeded, else is skipped with the count', () => {
  const two = step({ when: { kind: 'min_succeeded', minSucceeded: 2 } });
  assert.equal(shouldRun(two, parents('succeeded', 'failed', 'succeeded')), true);
  assert.equal(shouldRun(two, parents('succeeded', 'failed', 'cancelled')), false);
  assert.match(skipReason(two, parents('succeeded', 'failed', 'cancelled')), /1 of its parents succeeded, fewer than min_succeeded 2/);
});

test('the envelope carries the run input and one entry per need, for_each parents with their items', () => {
  const items = [{ status: 'succeeded', output: 1, error: null }];
  const withItems = new Map<string, StepResult>([['a', { ...result('succeeded', [1]), items }], ['b', result('failed')]]);
  assert.deepEqual(envelope({ x: 1 }, step({ needs: ['a', 'b'] }), withItems), {
    input: { x: 1 },
    parents: {
      a: { status: 'succeeded', output: [1], error: null, items },
      b: { status: 'failed', output: null, error: { code: 'nonzero_exit', message: 'it failed' } },
    },
  });
  assert.deepEqual(envelope(null, step({ needs: [] }), new Map()), { input: null, parents: {} });
});

test('an input map selects from the envelope; what it points at that is missing is null', () => {
  const base = { input: { token: 't' }, parents: { a: { status: 'succeeded', output: { n: 2 }, error: null } } };
  const mapped = stepInputs(step({ input: { token: '/input/token', n: '/parents/a/output/n', gone: '/input/nope' } }), base);
  assert.deepEqual(mapped, { inputs: [{ token: 't', n: 2, gone: null }], forEach: false });
  assert.deepEqual(stepInputs(step(), base), { inputs: [base], forEach: false });
});

test('for_each: one input per element with item and index; not an array, missing, or too long is invalid', () => {
  const base = { input: { items: ['x', 'y'] }, parents: {} };
  assert.deepEqual(stepInputs(step({ forEach: '/input/items' }), base), {
    inputs: [{ ...base, item: 'x', index: 0 }, { ...base, item: 'y', index: 1 }], forEach: true,
  });
  assert.deepEqual(stepInputs(step({ forEach: '/input/items', input: { what: '/item', at: '/index' } }), base), {
    inputs: [{ what: 'x', at: 0 }, { what: 'y', at: 1 }], forEach: true,
  });
  assert.deepEqual(stepInputs(step({ forEach: '/input/items' }), { input: { items: [] }, parents: {} }), { inputs: [], forEach: true });
  assert.deepEqual(stepInputs(step({ forEach: '/input/items' }), { input: { items: 'x' }, parents: {} }), { invalid: 'for_each /input/items is not an array' });
  assert.deepEqual(stepInputs(step({ forEach: '/input/nope' }), base), { invalid: 'for_each /input/nope selects nothing' });
  assert.deepEqual(stepInputs(step({ forEach: '/input/items', maxItems: 1 }), base), {
    invalid: 'for_each /input/items has 2 elements, more than max_items 1',
  });
});

test('a for_each step succeeds only if every element did; outputs and items in index order; the first failure is its error', () => {
  const task = (itemIndex: number, status: string, output: unknown = null) => ({
    itemIndex, status, output, error: status === 'succeeded' ? null : { code: 'timeout', message: 'too slow' },
  });
  assert.deepEqual(stepResult(true, [task(1, 'succeeded', 'b'), task(0, 'succeeded', 'a')]), {
    status: 'succeeded', output: ['a', 'b'], error: null,
    items: [{ status: 'succeeded', output: 'a', error: null }, { status: 'succeeded', output: 'b', error: null }],
  });
  const failed = stepResult(true, [task(0, 'succeeded', 'a'), task(2, 'failed'), task(1, 'failed')]);
  assert.equal(failed.status, 'failed');
  assert.deepEqual(failed.error, { code: 'timeout', message: 'element 1: too slow' });
  assert.deepEqual(failed.output, ['a', null, null]);
  assert.deepEqual(stepResult(false, [task(0, 'failed')]), { status: 'failed', output: null, error: { code: 'timeout', message: 'too slow' } });
  const mixed = stepResult(true, [{ ...task(0, 'cancelled'), error: { code: 'cancelled', message: 'by a client' } }, task(1, 'failed')]);
  assert.deepEqual([mixed.status, mixed.error?.message], ['failed', 'element 1: too slow'], 'a failed element outweighs a cancelled one');
  assert.equal(stepResult(true, [task(0, 'succeeded'), { ...task(1, 'cancelled'), error: null }]).status, 'cancelled');
});

test('a run succeeds when every sink did; otherwise its error is the first step that failed, in finishing order', () => {
  const ok = runOutcome(['m', 'n'], [{ id: 'a', result: result('succeeded', 1) }, { id: 'm', result: result('succeeded', 2) }, { id: 'n', result: result('succeeded', 3) }]);
  assert.deepEqual(ok, { status: 'succeeded', output: { m: 2, n: 3 }, error: null });
  const bad = runOutcome(['m'], [{ id: 'a', result: result('succeeded', 1) }, { id: 'b', result: result('failed') }, { id: 'm', result: result('skipped') }]);
  assert.deepEqual(bad, { status: 'failed', output: { m: null }, error: { step: 'b', code: 'nonzero_exit', message: 'it failed' } });
  // A sink that runs `always` may succeed although a parent failed: every sink succeeded, so the run did.
  const always = runOutcome(['m'], [{ id: 'b', result: result('failed') }, { id: 'm', result: result('succeeded', 'merged') }]);
  assert.deepEqual(always, { status: 'succeeded', output: { m: 'merged' }, error: null });
});
