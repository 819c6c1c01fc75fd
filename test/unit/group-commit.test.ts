import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupCommit, type CommitGroup } from '../../src/group-commit.ts';

/** A commit function whose calls stay open until released, recording the groups it was given. */
function heldCommits(results: (items: readonly number[]) => readonly string[] = (items) => items.map((n) => `done ${n}`)) {
  const groups: number[][] = [];
  const releases: ((error?: Error) => void)[] = [];
  const commit: CommitGroup<number, string> = (items) => {
    groups.push([...items]);
    return new Promise((resolve, reject) => releases.push((error) => (error === undefined ? resolve(results(items)) : reject(error))));
  };
  return { commit, groups, release: (i: number, error?: Error) => releases[i]!(error) };
}

const always = () => true;
const tick = () => new Promise((resolve) => setImmediate(resolve));

test('a lone item is committed at once, alone', async () => {
  const held = heldCommits();
  const submit = groupCommit(held.commit, { maxGroup: 10, maxInFlight: 1, mayBeOneItem: always });
  const result = submit(1);
  assert.deepEqual(held.groups, [[1]]);
  held.release(0);
  assert.equal(await result, 'done 1');
});

test('items arriving while a commit is in flight go together in the next one, each answered with its own result', async () => {
  const held = heldCommits();
  const submit = groupCommit(held.commit, { maxGroup: 10, maxInFlight: 1, mayBeOneItem: always });
  const first = submit(1);
  const rest = [submit(2), submit(3), submit(4)];
  assert.deepEqual(held.groups, [[1]], 'nothing more starts while the only commit allowed is in flight');
  held.release(0);
  assert.equal(await first, 'done 1');
  await tick();
  assert.deepEqual(held.groups, [[1], [2, 3, 4]]);
  held.release(1);
  assert.deepEqual(await Promise.all(rest), ['done 2', 'done 3', 'done 4']);
});

test('groups hold at most maxGroup items, and at most maxInFlight commits run at once', async () => {
  const held = heldCommits();
  const submit = groupCommit(held.commit, { maxGroup: 2, maxInFlight: 2, mayBeOneItem: always });
  const all = [1, 2, 3, 4, 5, 6].map((n) => submit(n));
  assert.deepEqual(held.groups, [[1], [2]], 'the first two start at once, each alone');
  held.release(0);
  await tick();
  assert.deepEqual(held.groups, [[1], [2], [3, 4]]);
  held.release(1);
  await tick();
  assert.deepEqual(held.groups, [[1], [2], [3, 4], [5, 6]]);
  held.release(2);
  held.release(3);
  assert.deepEqual(await Promise.all(all), [1, 2, 3, 4, 5, 6].map((n) => `done ${n}`));
});

test("a group failing through one item's fault is committed item by item: only that item fails", async () => {
  const groups: number[][] = [];
  let blocked: (() => void) | undefined;
  const gate = new Promise<void>((resolve) => (blocked = resolve));
  const submit = groupCommit<number, string>(async (items) => {
    groups.push([...items]);
    if (items[0] === 0) await gate;
    if (items.includes(3)) throw new Error('item 3 is bad');
    return items.map((n) => `done ${n}`);
  }, { maxGroup: 10, maxInFlight: 1, mayBeOneItem: always });
  const first = submit(0);
  const rest = [2, 3, 4].map((n) => submit(n).then((r) => r, (e: Error) => e.message));
  blocked!();
  assert.equal(await first, 'done 0');
  assert.deepEqual(await Promise.all(rest), ['done 2', 'item 3 is bad', 'done 4']);
  assert.deepEqual(groups, [[0], [2, 3, 4], [2], [3], [4]]);
});

test('a failure that is no single item\'s fault (an outage) fails the whole group at once, without retrying', async () => {
  const held = heldCommits();
  const submit = groupCommit(held.commit, { maxGroup: 10, maxInFlight: 1, mayBeOneItem: () => false });
  const first = submit(1);
  const rest = [submit(2), submit(3)].map((p) => p.then(() => 'committed', (e: Error) => e.message));
  held.release(0);
  await first;
  await tick();
  held.release(1, new Error('database down'));
  assert.deepEqual(await Promise.all(rest), ['database down', 'database down']);
  assert.deepEqual(held.groups, [[1], [2, 3]]);
});

test('a commit that returns the wrong number of results fails its callers rather than answering them wrongly', async () => {
  const submit = groupCommit<number, string>(async () => [], { maxGroup: 10, maxInFlight: 1, mayBeOneItem: () => false });
  await assert.rejects(submit(1), /a group commit of 1 items returned 0 results/);
});

test('after a burst drains, the next item again commits at once', async () => {
  const held = heldCommits();
  const submit = groupCommit(held.commit, { maxGroup: 10, maxInFlight: 1, mayBeOneItem: always });
  const first = submit(1);
  held.release(0);
  await first;
  await tick();
  const next = submit(2);
  assert.deepEqual(held.groups, [[1], [2]]);
  held.release(1);
  assert.equal(await next, 'done 2');
});
