/**
 * One attempt of one task: claim it (queued → running), run it in a fresh container, and hand
 * the outcome to the lifecycle (tasks/task-lifecycle.ts), which owns every status change.
 *
 * Failures of the task (exit code, timeout, output) and of the engine become the attempt's result.
 * Failures of Berth's own infrastructure (database) are thrown to the job handler.
 */
import { isDatabaseUnavailable, retryWhileUnavailable, type Pool } from '../db.ts';
import { EngineError, type ContainerEngine, type ContainerSpec } from '../engine/container-engine.ts';
import type { Logger } from '../logger.ts';
import type { Runner, RunnersConfig } from '../runners/runner.ts';
import { traceIdOf } from '../trace-context.ts';
import { LogStreamer } from '../tasks/log-streamer.ts';
import type { AttemptResult, ClaimedTask, SettleOptions, Settled, TaskLifecycle } from '../tasks/task-lifecycle.ts';
import { engineErrorResult, judgeOutcome, unstorableOutputResult, type AttemptVerdict } from './attempt-verdict.ts';

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

// How long a finished attempt keeps trying to record its result while the database is down.
const SETTLE_RETRY_MS = 5 * 60_000;

export interface RunTaskDeps {
  readonly pool: Pool;
  readonly lifecycle: TaskLifecycle;
  readonly engine: ContainerEngine;
  readonly runners: RunnersConfig;
  readonly logger: Logger;
  readonly logLimitBytes: number;
  /** Value of the berth.managed-by label: this deployment's, so no other deployment sweeps its containers. */
  readonly instanceLabel: string;
}

/** The worker slot an attempt runs in: it tracks the attempt (heartbeats, cancel) and may take a hand-off. */
export interface Slot {
  /** The attempt's task and number, once claimed; returns the signal that stops the attempt. */
  claimed(taskId: string, attempt: number): AbortSignal;
  /** Whether the slot may run a parked task handed to it as this attempt ends (not while the worker stops). */
  mayTakeNext(): boolean;
}

/** Claims the job's task and runs it; then any parked task its end hands to the same slot. */
export type RunTask = (taskId: string, jobId: string, slot: Slot) => Promise<void>;

export function createRunTask(deps: RunTaskDeps): RunTask {
  return async (taskId, jobId, slot) => {
    let claim = await deps.lifecycle.claim(taskId, jobId);
    if (claim === null) {
      deps.logger.debug({ taskId }, 'task is not claimable now (final, claimed, not yet due, or parked until its runner has a free slot)');
      return;
    }
    while (claim !== null) claim = await runAttempt(deps, claim, jobId, slot);
  };
}

/** One claimed attempt, from container to recorded result; returns the parked task handed to this slot, if any. */
async function runAttempt(deps: RunTaskDeps, claim: ClaimedTask, jobId: string, slot: Slot): Promise<ClaimedTask | null> {
  const signal = slot.claimed(claim.id, claim.attempt);
  const log = deps.logger.child({
    taskId: claim.id, runner: claim.runner, attempt: claim.attempt, ...(claim.traceparent === null ? {} : { traceId: traceIdOf(claim.traceparent) }),
  });
  // Asked as the attempt ends: a stop (shutdown, cancel) meanwhile takes no hand-off.
  const handOffJob = (): string | undefined => (slot.mayTakeNext() && !signal.aborted ? jobId : undefined);
  const runner = deps.runners.runners.get(claim.runner);
  if (runner === undefined) {
    // The API accepted it under a configuration this worker does not have.
    log.error('runner is not in this worker\'s configuration');
    const result = engineErrorResult(new EngineError('create_failed', `runner '${claim.runner}' is not in this worker's configuration`));
    return (await deps.lifecycle.settle(claim, result, { handOffJob: handOffJob() })).next;
  }
  const streamer = new LogStreamer({ pool: deps.pool, taskId: claim.id, attempt: claim.attempt, limitBytes: deps.logLimitBytes, logger: log });
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
      return null;
    }
    verdict = error.outcome === undefined ? { kind: 'finished', result: engineErrorResult(error) } : judgeOutcome(error.outcome, runner);
    stderr = error.outcome?.stderr ?? stderr;
  } finally {
    await streamer.close();
  }
  // The container's work is done; a database restart must not lose its result.
  const logTail = streamer.complete ? undefined : stderr;
  const { settlement, next } = await retryWhileUnavailable(async (): Promise<Settled> => {
    if (verdict.kind === 'finished') return settleResult(deps, claim, verdict.result, { logTail, handOffJob: handOffJob() }, log);
    const reason: unknown = signal.reason;
    if (reason instanceof AttemptStopped && reason.kind === 'shutdown') return { settlement: await deps.lifecycle.interrupt(claim, logTail), next: null };
    if (logTail !== undefined) await deps.lifecycle.keepLog(claim, logTail);
    return { settlement: 'superseded', next: null };
  }, SETTLE_RETRY_MS, (error) => log.warn({ err: error }, 'database unavailable; retrying to record the result'));
  if (settlement === 'superseded') log.info('attempt ended after its task was cancelled or taken over; result discarded');
  else log.info({ settlement, ...(verdict.kind === 'finished' ? { status: verdict.result.status, errorCode: verdict.result.errorCode } : {}) }, 'attempt finished');
  return next;
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

/**
 * Records the attempt's result. A write the database refuses for what the result holds (output it
 * cannot store, say) is not an outage: it is logged once, and the task ends as invalid_output in
 * this attempt rather than sitting running until the sweeper calls its worker lost.
 */
async function settleResult(deps: RunTaskDeps, claim: ClaimedTask, result: AttemptResult, options: SettleOptions, log: Logger): Promise<Settled> {
  try {
    return await deps.lifecycle.settle(claim, result, options);
  } catch (error) {
    if (isDatabaseUnavailable(error) || result.outputJson === null) throw error;
    log.error({ err: error }, 'the database refused the attempt\'s output; the task fails as invalid_output');
    return deps.lifecycle.settle(claim, unstorableOutputResult(error), options);
  }
}

function containerSpec(claim: ClaimedTask, runner: Runner, deps: RunTaskDeps): ContainerSpec {
  return {
    name: `berth-${claim.id}-${claim.attempt}`,
    image: runner.image,
    command: runner.command,
    env: {
      ...runner.env, BERTH_TASK_ID: claim.id, BERTH_RUNNER: runner.name, BERTH_ATTEMPT: String(claim.attempt),
      // W3C trace context, under the name OpenTelemetry's environment carrier reads.
      ...(claim.traceparent === null ? {} : { TRACEPARENT: claim.traceparent }),
    },
    labels: {
      [LABELS.managedBy]: deps.instanceLabel,
      [LABELS.taskId]: claim.id,
      [LABELS.runner]: runner.name,
      [LABELS.attempt]: String(claim.attempt),
    },
    network: runner.network,
    user: runner.user,
    readOnlyRootfs: runner.readOnly,
    init: runner.init,
    tmpfsBytes: runner.limits.tmpBytes,
    nofile: runner.limits.nofile,
    logBytes: runner.limits.logBytes,
    memoryBytes: runner.limits.memoryBytes,
    pids: runner.limits.pids,
    stdin: Buffer.from(`${claim.inputJson}\n`, 'utf8'),
    timeoutMs: runner.timeoutMs,
    stdoutLimitBytes: runner.limits.outputBytes,
    stderrLimitBytes: deps.logLimitBytes,
    ...(runner.limits.nanoCpus === undefined ? {} : { nanoCpus: runner.limits.nanoCpus }),
  };
}
