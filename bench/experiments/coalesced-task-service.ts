/**
 * EXPERIMENT, not Berth's code: src/tasks/task-service.ts with submitTask coalesced. Loaded in
 * place of the real module by coalesce-submissions.ts. Submissions that arrive while a transaction
 * is in flight are committed together through the batch path (insertTasks + one pg-boss insert);
 * each client still gets its own 202 after the shared commit.
 */
import { AppError } from '../../src/errors.ts';
import { createTaskService as createShipped, type TaskService, type TaskServiceDeps } from '../../src/tasks/task-service.ts';
import type { TaskSubmission } from '../../src/tasks/task-schemas.ts';

export * from '../../src/tasks/task-service.ts';

type Result = Awaited<ReturnType<TaskService['submitTask']>>;

const MAX_BATCH = 1000;
/** Transactions in flight at once: one can fill while the other commits. */
const MAX_FLUSHES = 2;

export function createTaskService(deps: TaskServiceDeps): TaskService {
  return coalesceSubmissions(createShipped(deps));
}

export function coalesceSubmissions(inner: TaskService): TaskService {
  const queue: { submission: TaskSubmission; resolve: (r: Result) => void; reject: (e: unknown) => void }[] = [];
  let flushes = 0;
  async function flush(): Promise<void> {
    flushes += 1;
    try {
      while (queue.length > 0) {
        const group = queue.splice(0, MAX_BATCH);
        try {
          const tasks = await inner.submitBatch(group.map((p) => p.submission));
          group.forEach((p, i) => p.resolve({ task: tasks[i]!, created: true }));
        } catch (error) {
          // One invalid submission must not fail the others: each then goes alone, for its own answer.
          if (error instanceof AppError && error.code === 'VALIDATION_FAILED') {
            await Promise.all(group.map((p) => inner.submitTask(p.submission).then(p.resolve, p.reject)));
          } else {
            for (const p of group) p.reject(error);
          }
        }
      }
    } finally {
      flushes -= 1;
    }
  }
  return {
    ...inner,
    submitTask(submission, options = {}) {
      // Idempotency keys need their own conflict check: they keep the single-transaction path.
      if (options.idempotencyKey !== undefined) return inner.submitTask(submission, options);
      return new Promise<Result>((resolve, reject) => {
        queue.push({ submission, resolve, reject });
        if (flushes < MAX_FLUSHES) void flush();
      });
    },
  };
}
