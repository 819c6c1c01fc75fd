/**
 * One attempt of one task: claim it (queued → running), run it in a fresh container, record the
 * outcome. Every write after the claim is fenced by the attempt number (see task-store.ts).
 *
 * Failures of the task (exit code, timeout, output) and of the engine become the task's final state.
 * Failures of Berth's own infrastructure (database) are thrown to the job handler.
 */
import { withTransaction, type Pool } from '../db.ts';
import type { Logger } from '../logger.ts';
import { jobExpirySeconds, type TaskQueue } from '../queue.ts';
import type { Runner, RunnersConfig } from '../runners/runner.ts';
import { claimTask, finishAttempt, requeueAttempt, saveTaskLogs, type ClaimedTask } from '../tasks/task-store.ts';
import { judgeEngineError, judgeOutcome, type AttemptVerdict } from './attempt-verdict.ts';
import { EngineError, type ContainerEngine, type ContainerSpec } from '../engine/container-engine.ts';

export const LABELS = {
  managedBy: 'berth.managed-by',
  taskId: 'berth.task-id',
  runner: 'berth.runner',
  attempt: 'berth.attempt',
} as const;

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

export type RunTask = (taskId: string, signal: AbortSignal) => Promise<void>;

export function createRunTask(deps: RunTaskDeps): RunTask {
  return async (taskId, signal) => {
    const claim = await claimTask(deps.pool, taskId);
    if (claim === null) {
      deps.logger.debug({ taskId }, 'task is no longer queued; nothing to run');
      return;
    }
    const log = deps.logger.child({ taskId, runner: claim.runner, attempt: claim.attempt });
    const runner = deps.runners.runners.get(claim.runner);
    let verdict: AttemptVerdict;
    let stderr: { content: Buffer; truncated: boolean } | undefined;
    if (runner === undefined) {
      verdict = judgeEngineError(new EngineError('create_failed', `runner '${claim.runner}' is not in this worker's configuration`));
    } else {
      try {
        const outcome = await deps.engine.run(containerSpec(claim, runner, deps), { signal });
        verdict = judgeOutcome(outcome, runner);
        stderr = { content: outcome.stderr, truncated: outcome.stderrTruncated };
      } catch (error) {
        if (!(error instanceof EngineError)) throw error;
        log.warn({ err: error }, 'container engine failed');
        verdict = judgeEngineError(error);
      }
    }
    await record(deps, claim, runner, verdict, stderr, log);
  };
}

async function record(
  deps: RunTaskDeps, claim: ClaimedTask, runner: Runner | undefined, verdict: AttemptVerdict,
  stderr: { content: Buffer; truncated: boolean } | undefined, log: Logger,
): Promise<void> {
  const held = await withTransaction(deps.pool, async (client) => {
    if (verdict.kind === 'interrupted') {
      const requeued = await requeueAttempt(client, claim.id, claim.attempt);
      if (requeued) await deps.queue.enqueue(client, claim.id, { expireInSeconds: jobExpirySeconds(runner?.timeoutMs ?? 0) });
      return requeued;
    }
    const finished = await finishAttempt(client, claim.id, claim.attempt, verdict.result);
    if (finished && stderr !== undefined) await saveTaskLogs(client, claim.id, stderr.content, stderr.truncated);
    return finished;
  });
  if (!held) log.warn('attempt no longer holds the task; its result was discarded');
  else if (verdict.kind === 'interrupted') log.info('attempt interrupted; task queued again');
  else log.info({ status: verdict.result.status, errorCode: verdict.result.errorCode }, 'attempt finished');
}

function containerSpec(claim: ClaimedTask, runner: Runner, deps: RunTaskDeps): ContainerSpec {
  return {
    name: `berth-${claim.id}-${claim.attempt}`,
    image: runner.image,
    command: runner.command,
    env: { ...runner.env, BERTH_TASK_ID: claim.id, BERTH_RUNNER: runner.name },
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
