/**
 * Housekeeping every worker does on a timer, safe to run from many workers at once:
 * - lost attempts: a running task whose worker stopped heartbeating for the lease is taken back —
 *   its container removed first (so it never runs twice at once), then retried or failed per its
 *   runner's policy (the lifecycle's reclaim);
 * - free slots: parked tasks of a runner with a concurrency limit get the slots that are free (a
 *   safety net: a slot is normally handed on in the transaction that frees it);
 * - orphaned containers: a container of this deployment whose attempt is not live is removed;
 * - retention: finished tasks older than the retention period are deleted.
 *
 * The first two and the orphan sweep judge other workers by their heartbeats, which cannot be
 * written while the database is down: right after an outage (or this process's start) every
 * attempt looks lost. So they run only once this worker has itself been in touch with the
 * database for a whole lease.
 */
import { isDatabaseUnavailable, type Pool } from '../db.ts';
import type { ContainerEngine } from '../engine/container-engine.ts';
import type { Logger } from '../logger.ts';
import type { TaskLifecycle } from '../tasks/task-lifecycle.ts';
import { applyRetention } from '../tasks/task-retention.ts';
import { LABELS } from './run-task.ts';

// Orphans are looked for every two leases, at most every minute (a lease is 30 s by default).
const MAX_ORPHAN_SWEEP_MS = 60_000;
const RETENTION_SWEEP_MS = 10 * 60_000;
const BATCH = 500;

export interface MaintenanceDeps {
  readonly pool: Pool;
  readonly lifecycle: TaskLifecycle;
  readonly engine: ContainerEngine;
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly retentionMs: number;
  readonly instanceLabel: string;
}

export function startMaintenance(deps: MaintenanceDeps): { stop(): Promise<void> } {
  const touch = createTouchGate(deps.leaseMs, () => deps.pool.query('select 1'));
  const jobs = [
    every(deps, 'lost attempts', deps.leaseMs / 2, () => touch.whenInTouch(async () => {
      await sweepLostAttempts(deps);
      const released = await deps.lifecycle.releaseFreeSlots();
      if (released > 0) deps.logger.warn({ released }, 'gave free runner slots to parked tasks');
    })),
    every(deps, 'orphaned containers', Math.min(MAX_ORPHAN_SWEEP_MS, deps.leaseMs * 2), () => touch.whenInTouch(() => sweepOrphanedContainers(deps))),
    every(deps, 'retention', RETENTION_SWEEP_MS, async () => {
      const deleted = await applyRetention(deps.pool, deps.retentionMs);
      if (Object.values(deleted).some((n) => n > 0)) deps.logger.info(deleted, 'retention applied');
    }),
  ];
  return { stop: async () => { await Promise.all(jobs.map((job) => job.stop())); } };
}

/**
 * Runs a sweep only after a whole lease of unbroken contact with the database: before that it
 * only checks the contact. Any sweep (or check) that finds the database unavailable starts the
 * lease again.
 */
export function createTouchGate(leaseMs: number, check: () => Promise<unknown>, now: () => number = Date.now) {
  let inTouchSince = now();
  return {
    async whenInTouch(sweep: () => Promise<void>): Promise<void> {
      try {
        if (now() - inTouchSince >= leaseMs) await sweep();
        else await check();
      } catch (error) {
        if (isDatabaseUnavailable(error)) inTouchSince = Number.POSITIVE_INFINITY;
        throw error;
      }
      if (inTouchSince === Number.POSITIVE_INFINITY) inTouchSince = now();
    },
  };
}

/** Runs `fn` now and then every `ms`, never overlapping itself; a failure is logged and retried next time. */
function every(deps: MaintenanceDeps, name: string, ms: number, fn: () => Promise<void>): { stop(): Promise<void> } {
  let current: Promise<void> = Promise.resolve();
  const run = (): void => {
    current = current.then(fn).catch((error: unknown) => deps.logger.warn({ err: error, sweep: name }, 'maintenance sweep failed'));
  };
  run();
  const timer = setInterval(run, ms);
  timer.unref();
  return { stop: async () => { clearInterval(timer); await current; } };
}

export async function sweepLostAttempts(deps: MaintenanceDeps): Promise<void> {
  for (const lost of await deps.lifecycle.findLost(deps.leaseMs, BATCH)) {
    // The container goes first: if the engine cannot be reached, the task stays running (not
    // retried beside a container that may still be working) and the next sweep tries again.
    await deps.engine.removeContainers({ [LABELS.taskId]: lost.id, [LABELS.attempt]: String(lost.attempt) });
    const settlement = await deps.lifecycle.reclaim(lost, `the worker running this attempt was lost (no heartbeat for ${deps.leaseMs / 1000}s)`);
    deps.logger.warn({ taskId: lost.id, attempt: lost.attempt, settlement }, 'took back an attempt whose worker was lost');
  }
}

export async function sweepOrphanedContainers(deps: MaintenanceDeps): Promise<void> {
  const containers = await deps.engine.findContainers({ [LABELS.managedBy]: deps.instanceLabel });
  const attempts = containers.flatMap((c) => {
    const id = c.labels[LABELS.taskId];
    const attempt = Number(c.labels[LABELS.attempt]);
    return id !== undefined && Number.isInteger(attempt) ? [{ id, attempt, container: c }] : [];
  });
  if (attempts.length === 0) return;
  const live = await deps.lifecycle.liveAttempts(attempts, deps.leaseMs);
  for (const { id, attempt, container } of attempts) {
    if (live.has(`${id}:${attempt}`)) continue;
    await deps.engine.removeContainers({ [LABELS.taskId]: id, [LABELS.attempt]: String(attempt) });
    deps.logger.warn({ container: container.name, taskId: id, attempt }, 'removed an orphaned container');
  }
}
