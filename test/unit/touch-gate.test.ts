/**
 * The maintenance sweeps that judge other workers by their heartbeats (lost attempts, orphaned
 * containers) run only after a whole lease of contact with the database: right after an outage
 * every heartbeat is stale, and a sweep then would take live attempts for lost ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTouchGate } from '../../src/worker/maintenance.ts';

const outage = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

function harness(leaseMs: number) {
  let now = 0;
  let databaseUp = true;
  const swept: number[] = [];
  const gate = createTouchGate(leaseMs, async () => { if (!databaseUp) throw outage; }, () => now);
  const sweep = async (): Promise<void> => {
    if (!databaseUp) throw outage;
    swept.push(now);
  };
  const tick = async (at: number): Promise<void> => {
    now = at;
    await gate.whenInTouch(sweep).catch((error: unknown) => { if (error !== outage) throw error; });
  };
  return { swept, tick, setDatabase: (up: boolean) => { databaseUp = up; } };
}

test('no sweep during the first lease after start', async () => {
  const h = harness(1_000);
  for (const at of [0, 500, 999]) await h.tick(at);
  assert.deepEqual(h.swept, []);
  await h.tick(1_000);
  assert.deepEqual(h.swept, [1_000]);
});

test('after an outage, sweeps wait for a whole lease of contact again', async () => {
  const h = harness(1_000);
  await h.tick(2_000);
  assert.deepEqual(h.swept, [2_000]);
  h.setDatabase(false);
  await h.tick(3_000);
  await h.tick(10_000);
  h.setDatabase(true);
  await h.tick(11_000); // back: only a check, the lease starts now
  await h.tick(11_900);
  assert.deepEqual(h.swept, [2_000], 'no sweep within a lease of the database coming back');
  await h.tick(12_000);
  assert.deepEqual(h.swept, [2_000, 12_000]);
});

test('the orphan sweep is gated too: right after the database is back, no container is judged', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 0 });
  let databaseUp = false;
  const looked: number[] = [];
  const query = async () => { if (!databaseUp) throw outage; return { rows: [] }; };
  const lifecycle = {
    findLost: async () => { await query(); return []; },
    releaseFreeSlots: async () => 0,
    liveAttempts: async () => new Set<string>(),
  };
  const engine = {
    findContainers: async () => { looked.push(Date.now()); return []; },
    removeContainers: async () => 0,
  };
  const { startMaintenance } = await import('../../src/worker/maintenance.ts');
  const silent = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined };
  const maintenance = startMaintenance({
    pool: { query } as never, lifecycle: lifecycle as never, engine: engine as never, logger: silent as never,
    leaseMs: 10_000, retentionMs: 7 * 86_400_000, instanceLabel: 'test',
  });
  const advance = async (ms: number) => {
    for (let i = 0; i < ms / 1_000; i += 1) {
      t.mock.timers.tick(1_000);
      for (let j = 0; j < 20; j += 1) await Promise.resolve();
    }
  };
  await advance(60_000); // down for a minute: orphan sweeps come due every 20 s, and find the database gone
  databaseUp = true;
  await advance(9_000);
  assert.deepEqual(looked, [], 'no orphan sweep within a lease of the database coming back');
  await advance(40_000);
  assert.ok(looked.length > 0, 'orphans are looked for once a lease of contact has passed');
  await maintenance.stop();
});
