import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canTransition, FINAL_STATUSES, isFinal, TASK_STATUSES, TRANSITIONS } from '../../src/tasks/task-status.ts';

test('every allowed transition, and nothing else', () => {
  const allowed = new Set(['queued→running', 'running→succeeded', 'running→failed', 'running→queued', 'queued→cancelled', 'running→cancelled']);
  for (const from of TASK_STATUSES) {
    for (const to of TASK_STATUSES) assert.equal(canTransition(from, to), allowed.has(`${from}→${to}`), `${from} → ${to}`);
  }
});

test('only submit and reject make a task, queued or (a refused workflow step) failed', () => {
  const creating = Object.entries(TRANSITIONS).filter(([, t]) => t.from.length === 0).map(([name, t]) => [name, [...t.to]]);
  assert.deepEqual(creating, [['submit', ['queued']], ['reject', ['failed']]]);
});

test('a final status is left by no transition', () => {
  assert.deepEqual(TASK_STATUSES.filter(isFinal), [...FINAL_STATUSES]);
  for (const transition of Object.values(TRANSITIONS)) {
    for (const from of transition.from) assert.ok(!isFinal(from), `${from} is final yet left`);
  }
});
