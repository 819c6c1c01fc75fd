/**
 * Housekeeping every worker does on a timer, safe to run from many workers at once:
 * - lost attempts: a running task whose worker stopped heartbeating for the lease is taken back —
 *   its container removed first (so it never runs twice at once), then retried or failed per its
 *   runner's policy;
 * - orphaned containers: a Berth container whose attempt is not live is removed;
 * - retention: finished tasks (with attempts, logs and idempotency keys) older than the retention
 *   period are deleted, and idempotency keys after a day.
 */
import { isDatabaseUnavailable, withTransaction, type Pool } from '../db.ts';
import type { ContainerEngine } from '../engine/container-engine.ts';
import type { Logger } from '../logger.ts';
import type { TaskQueue } from '../queue.ts';
import type { RunnersConfig } from '../runners/runner.ts';
import { deleteExpiredIdempotencyKeys } from '../tasks/idempotency-store.ts';
import { deleteExpiredTasks, findLostAttempts, liveAttempts, type LostAttempt } from '../tasks/task-store.ts';
import { LABELS } from './run-task.ts';
import { settleFinal, settleFinished } from './settle-attempt.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const ORPHAN_SWEEP_MS = 60_000;
const RETENTION_SWEEP_MS = 10 * 60_000;
const BATCH = 500;

export interface MaintenanceDeps {
  readonly pool: Pool;
  readonly queue: TaskQueue;
  readonly engine: ContainerEngine;
  readonly runners: RunnersConfig;
  readonly logger: Logger;
  readonly leaseMs: number;
  readonly retentionMs: number;
  readonly instanceLabel?: string;
}

export function startMaintenance(deps: MaintenanceDeps): { stop(): Promise<void> } {
  // Heartbeats cannot be written while the database is down, so right after an outage (or this
  // process's start) every attempt looks lost. Only a sweeper that has itself been in touch with
  // the database for a whole lease may judge others by their heartbeats.
  let inTouchSince = Date.now();
  const sweepLost = async (): Promise<void> => {
    try {
      if (Date.now() - inTouchSince >= deps.leaseMs) await sweepLostAttempts(deps);
      else await deps.pool.query('select 1');
    } catch (error) {
      if (isDatabaseUnavailable(error)) inTouchSince = Number.POSITIVE_INFINITY;
      throw error;
    }
    if (inTouchSince === Number.POSITIVE_INFINITY) inTouchSince = Date.now();
  };
  const jobs = [
    every(deps, 'lost attempts', deps.leaseMs / 2, sweepLost),
    every(deps, 'orphaned containers', ORPHAN_SWEEP_MS, () => sweepOrphanedContainers(deps)),
    every(deps, 'retention', RETENTION_SWEEP_MS, () => applyRetention(deps)),
  ];
  return { stop: async () => { await Promise.all(jobs.map((job) => job.stop())); } };
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
  for (const lost of await findLostAttempts(deps.pool, deps.leaseMs, BATCH)) {
    // The container goes first: if the engine cannot be reached, the task stays running (not
    // retried beside a container that may still be working) and the next sweep tries again.
    await deps.engine.removeContainers({ [LABELS.taskId]: lost.id, [LABELS.attempt]: String(lost.attempt) });
    const settlement = await withTransaction(deps.pool, (client) => settleLost(client, deps, lost));
    deps.logger.warn({ taskId: lost.id, attempt: lost.attempt, settlement }, 'took back an attempt whose worker was lost');
    if (lost.jobId !== null) await deps.queue.abandon(lost.jobId);
  }
}

function settleLost(client: Parameters<typeof settleFinal>[0], deps: MaintenanceDeps, lost: LostAttempt) {
  const result = {
    status: 'failed' as const, outputJson: null, exitCode: null, errorCode: 'engine_error' as const,
    errorMessage: `the worker running this attempt was lost (no heartbeat for ${deps.leaseMs / 1000}s)`,
  };
  const runner = deps.runners.runners.get(lost.runner);
  return runner === undefined ? settleFinal(client, deps.queue, lost, result) : settleFinished(client, deps.queue, runner, lost, result);
}

export async function sweepOrphanedContainers(deps: MaintenanceDeps): Promise<void> {
  const containers = await deps.engine.findContainers({ [LABELS.managedBy]: deps.instanceLabel ?? 'berth' });
  const attempts = containers.flatMap((c) => {
    const id = c.labels[LABELS.taskId];
    const attempt = Number(c.labels[LABELS.attempt]);
    return id !== undefined && Number.isInteger(attempt) ? [{ id, attempt, container: c }] : [];
  });
  if (attempts.length === 0) return;
  const live = await liveAttempts(deps.pool, attempts, deps.leaseMs);
  for (const { id, attempt, container } of attempts) {
    if (live.has(`${id}:${attempt}`)) continue;
    await deps.engine.removeContainers({ [LABELS.taskId]: id, [LABELS.attempt]: String(attempt) });
    deps.logger.warn({ container: container.name, taskId: id, attempt }, 'removed an orphaned container');
  }
}

export async function applyRetention(deps: MaintenanceDeps): Promise<void> {
  let deleted = 0;
  for (let n = BATCH; n === BATCH; deleted += n) n = await deleteExpiredTasks(deps.pool, deps.retentionMs, BATCH);
  const keys = await deleteExpiredIdempotencyKeys(deps.pool, DAY_MS);
  if (deleted > 0 || keys > 0) deps.logger.info({ tasks: deleted, idempotencyKeys: keys }, 'retention applied');
}
