/**
 * One attempt of one task: claim it (queued → running), run it in a fresh container, settle the
 * outcome (settle-attempt.ts). Every write after the claim is fenced by the attempt number.
 *
 * Failures of the task (exit code, timeout, output) and of the engine become the attempt's result.
 * Failures of Berth's own infrastructure (database) are thrown to the job handler.
 */
import { retryWhileUnavailable, withTransaction, type Pool } from '../db.ts';
import { EngineError, type ContainerEngine, type ContainerSpec } from '../engine/container-engine.ts';
import type { Logger } from '../logger.ts';
import { jobExpirySeconds, type TaskQueue } from '../queue.ts';
import type { Runner, RunnersConfig } from '../runners/runner.ts';
import { insertAttempt } from '../tasks/attempt-store.ts';
import { replaceLog } from '../tasks/log-store.ts';
import { claimTask, claimUnlimitedTask, countRunning, lockQueuedTask, lockRunner, type ClaimedTask } from '../tasks/task-store.ts';
import { engineErrorResult, judgeOutcome, type AttemptVerdict } from './attempt-verdict.ts';
import { LogStreamer } from './log-streamer.ts';
import { settleFinal, settleFinished, settleInterrupted, type Settlement } from './settle-attempt.ts';

export const LABELS = {
  managedBy: 'berth.managed-by',
  taskId: 'berth.task-id',
  runner: 'berth.runner',
  attempt: 'berth.attempt',
} as const;

/** Why Berth stopped an attempt; carried as the abort signal's reason. */
export class AttemptStopped extends Error {
  readonly kind: 'shutdown' | 'superseded';
  constructor(kind: 'shutdown' | 'superseded', message: string) {
    super(message);
    this.name = 'AttemptStopped';
    this.kind = kind;
  }
}

// A claim that finds its runner at its concurrency limit puts the task back for this long.
const BUSY_RETRY_MS = 1_000;
// How long a finished attempt keeps trying to record its result while the database is down.
const SETTLE_RETRY_MS = 5 * 60_000;

export interface RunTaskDeps {
  readonly pool: Pool;
  readonly queue: TaskQueue;
  readonly engine: ContainerEngine;
  readonly runners: RunnersConfig;
  readonly logger: Logger;
  readonly logLimitBytes: number;
  /** Value of the berth.managed-by label; lets tests tell their containers apart. */
  readonly instanceLabel?: string;
}

/** Called once the attempt is claimed, with its number: the caller tracks it (heartbeats, cancel). */
export type OnClaimed = (attempt: number) => void;

export type RunTask = (taskId: string, jobId: string, signal: AbortSignal, onClaimed: OnClaimed) => Promise<void>;

export function createRunTask(deps: RunTaskDeps): RunTask {
  const limitedRunners = [...deps.runners.runners.values()].filter((r) => r.concurrency !== undefined).map((r) => r.name);
  return async (taskId, jobId, signal, onClaimed) => {
    const claim = await claimAttempt(deps, limitedRunners, taskId, jobId);
    if (claim === null) {
      deps.logger.debug({ taskId }, 'task is not runnable now (no longer queued, or its runner is busy)');
      return;
    }
    onClaimed(claim.attempt);
    const log = deps.logger.child({ taskId, runner: claim.runner, attempt: claim.attempt });
    const runner = deps.runners.runners.get(claim.runner);
    if (runner === undefined) {
      // The API accepted it under a configuration this worker does not have.
      log.error('runner is not in this worker\'s configuration');
      const result = engineErrorResult(new EngineError('create_failed', `runner '${claim.runner}' is not in this worker's configuration`));
      await withTransaction(deps.pool, (client) => settleFinal(client, deps.queue, claim, result));
      return;
    }
    const streamer = new LogStreamer({ pool: deps.pool, taskId, attempt: claim.attempt, limitBytes: deps.logLimitBytes, logger: log });
    let verdict: AttemptVerdict;
    let stderr: Buffer = Buffer.alloc(0);
    try {
      const outcome = await deps.engine.run(containerSpec(claim, runner, deps), { signal, onStderr: (chunk) => streamer.push(chunk) });
      verdict = judgeOutcome(outcome, runner);
      stderr = outcome.stderr;
    } catch (error) {
      if (!(error instanceof EngineError)) throw error;
      log.warn({ err: error }, 'container engine failed');
      if (error.containerMayRemain && !(await removeLeftover(deps, claim, signal, log))) {
        // Stopping before the engine is back: the task stays running, and the sweeper takes it
        // back (container first) once this worker's heartbeats stop.
        return;
      }
      verdict = error.outcome === undefined ? { kind: 'finished', result: engineErrorResult(error) } : judgeOutcome(error.outcome, runner);
      stderr = error.outcome?.stderr ?? stderr;
    } finally {
      await streamer.close();
    }
    // The container's work is done; a database restart must not lose its result.
    const settlement = await retryWhileUnavailable(() => withTransaction(deps.pool, async (client): Promise<Settlement> => {
      if (!streamer.complete) await replaceLog(client, taskId, claim.attempt, stderr);
      if (verdict.kind === 'finished') return settleFinished(client, deps.queue, runner, claim, verdict.result);
      const reason: unknown = signal.reason;
      if (reason instanceof AttemptStopped && reason.kind === 'shutdown') return settleInterrupted(client, deps.queue, runner, claim);
      return 'superseded';
    }), SETTLE_RETRY_MS, (error) => log.warn({ err: error }, 'database unavailable; retrying to record the result'));
    if (settlement === 'superseded') log.info('attempt ended after its task was cancelled or taken over; result discarded');
    else log.info({ settlement, ...(verdict.kind === 'finished' ? { status: verdict.result.status, errorCode: verdict.result.errorCode } : {}) }, 'attempt finished');
  };
}

/**
 * Removes the attempt's container, which the engine could not remove when the run ended, before
 * the attempt is settled: a retry must never run beside it. Keeps trying (the attempt goes on
 * heartbeating meanwhile) until the engine answers; false if the attempt is stopped first.
 */
async function removeLeftover(deps: RunTaskDeps, claim: ClaimedTask, signal: AbortSignal, log: Logger): Promise<boolean> {
  const labels = { [LABELS.taskId]: claim.id, [LABELS.attempt]: String(claim.attempt) };
  for (let delay = 500; !signal.aborted; delay = Math.min(delay * 2, 10_000)) {
    try {
      await deps.engine.removeContainers(labels);
      return true;
    } catch (error) {
      log.warn({ err: error }, 'the attempt\'s container could not be removed yet; retrying before the task may run again');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  return false;
}

/** Claims the task for a new attempt, unless it is no longer queued or its runner is at its concurrency limit. */
async function claimAttempt(deps: RunTaskDeps, limitedRunners: readonly string[], taskId: string, jobId: string): Promise<ClaimedTask | null> {
  // Most runners have no limit: then one statement claims the task, a round trip instead of five.
  const claim = await claimUnlimitedTask(deps.pool, taskId, jobId, limitedRunners);
  if (claim !== null || limitedRunners.length === 0) return claim;
  return withTransaction(deps.pool, async (client) => {
    const queued = await lockQueuedTask(client, taskId);
    if (queued === null) return null;
    const runner = deps.runners.runners.get(queued.runner);
    if (runner?.concurrency !== undefined) {
      await lockRunner(client, runner.name);
      if ((await countRunning(client, runner.name)) >= runner.concurrency) {
        await deps.queue.enqueue(client, taskId, {
          runner: runner.name, expireInSeconds: jobExpirySeconds(runner.timeoutMs), priority: queued.priority,
          startAfter: new Date(Date.now() + BUSY_RETRY_MS),
        });
        return null;
      }
    }
    const claim = await claimTask(client, taskId, jobId);
    if (claim !== null) await insertAttempt(client, taskId, claim.attempt);
    return claim;
  });
}

function containerSpec(claim: ClaimedTask, runner: Runner, deps: RunTaskDeps): ContainerSpec {
  return {
    name: `berth-${claim.id}-${claim.attempt}`,
    image: runner.image,
    command: runner.command,
    env: { ...runner.env, BERTH_TASK_ID: claim.id, BERTH_RUNNER: runner.name, BERTH_ATTEMPT: String(claim.attempt) },
    labels: {
      [LABELS.managedBy]: deps.instanceLabel ?? 'berth',
      [LABELS.taskId]: claim.id,
      [LABELS.runner]: runner.name,
      [LABELS.attempt]: String(claim.attempt),
    },
    network: runner.network,
    stdin: Buffer.from(`${claim.inputJson}\n`, 'utf8'),
    timeoutMs: runner.timeoutMs,
    stdoutLimitBytes: runner.limits.outputBytes,
    stderrLimitBytes: deps.logLimitBytes,
    ...(runner.limits.memoryBytes === undefined ? {} : { memoryBytes: runner.limits.memoryBytes }),
    ...(runner.limits.nanoCpus === undefined ? {} : { nanoCpus: runner.limits.nanoCpus }),
    ...(runner.limits.pids === undefined ? {} : { pids: runner.limits.pids }),
  };
}
