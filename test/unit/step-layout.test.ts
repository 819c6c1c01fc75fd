import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layoutSteps, NODE_HEIGHT, NODE_WIDTH, stepDepths } from '../../src/ui/step-layout.ts';

test('a step\'s column is its dependency depth: one more than its deepest parent', () => {
  const steps = [
    { id: 'setup', needs: [] }, { id: 'scan-a', needs: ['setup'] }, { id: 'scan-b', needs: ['setup'] },
    { id: 'merge', needs: ['scan-a', 'setup', 'scan-b'] }, { id: 'lone', needs: [] },
  ];
  assert.deepEqual(Object.fromEntries(stepDepths(steps)), { setup: 0, 'scan-a': 1, 'scan-b': 1, merge: 2, lone: 0 });
  const layout = layoutSteps(steps);
  const at = Object.fromEntries(layout.nodes.map((node) => [node.id, [node.column, node.row]]));
  assert.deepEqual(at, { setup: [0, 0], 'scan-a': [1, 0], 'scan-b': [1, 1], merge: [2, 0], lone: [0, 1] });
});

test('depth does not depend on the order steps are listed in', () => {
  const depths = stepDepths([{ id: 'c', needs: ['b'] }, { id: 'b', needs: ['a'] }, { id: 'a', needs: [] }]);
  assert.deepEqual(Object.fromEntries(depths), { a: 0, b: 1, c: 2 });
});

test('nodes do not overlap, the size holds every node, and each edge runs from the parent\'s right to the child\'s left', () => {
  const layout = layoutSteps([{ id: 'a', needs: [] }, { id: 'b', needs: ['a'] }, { id: 'c', needs: ['a'] }]);
  const [a, b, c] = layout.nodes;
  assert.ok(b!.x >= a!.x + NODE_WIDTH && c!.y >= b!.y + NODE_HEIGHT);
  for (const node of layout.nodes) assert.ok(node.x + NODE_WIDTH <= layout.width && node.y + NODE_HEIGHT <= layout.height);
  assert.deepEqual(layout.edges.map((edge) => [edge.from, edge.to]), [['a', 'b'], ['a', 'c']]);
  assert.match(layout.edges[0]!.path, new RegExp(`^M ${a!.x + NODE_WIDTH} ${a!.y + NODE_HEIGHT / 2} C .* ${b!.x} ${b!.y + NODE_HEIGHT / 2}$`));
});

test('unknown parents are ignored, a cycle does not loop, and no steps is an empty drawing', () => {
  assert.deepEqual(Object.fromEntries(stepDepths([{ id: 'a', needs: ['ghost'] }])), { a: 0 });
  assert.deepEqual(layoutSteps([{ id: 'a', needs: ['ghost'] }]).edges, []);
  const cyclic = stepDepths([{ id: 'a', needs: ['b'] }, { id: 'b', needs: ['a'] }]);
  assert.equal(cyclic.size, 2);
  const empty = layoutSteps([]);
  assert.deepEqual([empty.nodes.length, empty.edges.length], [0, 0]);
  assert.ok(empty.width >= 0 && empty.height >= 0);
});
