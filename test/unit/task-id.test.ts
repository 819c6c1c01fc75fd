import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTaskId, newTaskId } from '../../src/tasks/task-id.ts';

test('ids are UUIDv7 and sort by creation time', () => {
  const a = newTaskId(1_700_000_000_000);
  const b = newTaskId(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.equal(a.slice(0, 13).replace('-', ''), (1_700_000_000_000).toString(16).padStart(12, '0'));
  assert.notEqual(newTaskId(5), newTaskId(5));
});

test('isTaskId accepts UUIDs only', () => {
  assert.ok(isTaskId(newTaskId()));
  for (const bad of ['', 'x', '0190a7a8-0000-7000-8000-00000000000', "0190a7a8-0000-7000-8000-00000000000'"]) assert.ok(!isTaskId(bad));
});
