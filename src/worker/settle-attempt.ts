/**
 * The end of an attempt, decided once for every way an attempt can end — finished by its worker,
 * interrupted by a shutdown, or found lost by the sweeper: close the attempt's record, then either
 * finish the task, or queue it again (a retry after its backoff, or at once after an interruption).
 * Runs inside the caller's transaction; every write is fenced by the attempt.
 */
import type { PoolClient } from '../db.ts';
import { jobExpirySeconds, type TaskQueue } from '../queue.ts';
import type { Runner } from '../runners/runner.ts';
import { publishTaskEvent } from '../task-events.ts';
import { countFailedAttempts, endAttempt } from '../tasks/attempt-store.ts';
import { isRetryable, retryDelayMs } from '../tasks/retry-policy.ts';
import { finishTask, requeueTask, type AttemptResult } from '../tasks/task-store.ts';

export interface AttemptRef {
  readonly id: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly priority: number;
}

export type Settlement = 'finished' | 'retrying' | 'requeued' | 'superseded';

/** Retries a retryable failure while the runner's policy allows, else finishes the task. */
export async function settleFinished(
  client: PoolClient, queue: TaskQueue, runner: Runner, ref: AttemptRef, result: AttemptResult, random?: () => number,
): Promise<Settlement> {
  if (result.status === 'failed' && result.errorCode !== null && isRetryable(result.errorCode)) {
    await endAttempt(client, ref.id, ref.attempt, { exitCode: result.exitCode, errorCode: result.errorCode, errorMessage: result.errorMessage });
    const failures = await countFailedAttempts(client, ref.id);
    if (failures < ref.maxAttempts) {
      const delayMs = retryDelayMs(runner.retries, failures, random);
      return requeue(client, queue, runner, ref, delayMs, 'retrying');
    }
  }
  return settleFinal(client, queue, ref, result);
}

/** The attempt's result is the task's: no retry. */
export async function settleFinal(client: PoolClient, queue: TaskQueue, ref: AttemptRef, result: AttemptResult): Promise<Settlement> {
  const finished = await finishTask(client, ref.id, ref.attempt, result);
  if (finished === null) return 'superseded';
  if (finished.callbackUrl !== null) await queue.enqueueCallback(client, ref.id);
  await publishTaskEvent(client, ref.id, 'final');
  return 'finished';
}

/** Stopped by Berth itself (worker shutdown): not the task's failure, so it runs again at once. */
export async function settleInterrupted(client: PoolClient, queue: TaskQueue, runner: Runner, ref: AttemptRef): Promise<Settlement> {
  await endAttempt(client, ref.id, ref.attempt, { exitCode: null, errorCode: 'interrupted', errorMessage: 'the worker shut down; queued again' });
  return requeue(client, queue, runner, ref, 0, 'requeued');
}

async function requeue(
  client: PoolClient, queue: TaskQueue, runner: Runner, ref: AttemptRef, delayMs: number, outcome: Settlement,
): Promise<Settlement> {
  if (!(await requeueTask(client, ref.id, ref.attempt, delayMs))) return 'superseded';
  await queue.enqueue(client, ref.id, {
    runner: runner.name,
    expireInSeconds: jobExpirySeconds(runner.timeoutMs),
    priority: ref.priority,
    ...(delayMs > 0 ? { startAfter: new Date(Date.now() + delayMs) } : {}),
  });
  await publishTaskEvent(client, ref.id, 'status');
  return outcome;
}
