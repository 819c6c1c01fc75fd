/**
 * What clients can do with tasks. Owns the rule that a 202 means durably stored: the task row and
 * its job are written in one transaction, and any 4xx is decided before anything is written.
 */
import { AppError } from '../errors.ts';
import { withTransaction, type Pool } from '../db.ts';
import { jobExpirySeconds, type TaskQueue } from '../queue.ts';
import type { RunnersConfig } from '../runners/runner.ts';
import { isTaskId, newTaskId } from './task-id.ts';
import type { Task, TaskSubmission } from './task-schemas.ts';
import { findTask, findTaskLogs, insertTask } from './task-store.ts';

export interface TaskServiceDeps {
  readonly pool: Pool;
  readonly queue: TaskQueue;
  readonly runners: RunnersConfig;
}

export interface TaskService {
  submitTask(submission: TaskSubmission): Promise<Task>;
  getTask(id: string): Promise<Task>;
  getTaskLogs(id: string): Promise<Buffer>;
}

export function createTaskService({ pool, queue, runners }: TaskServiceDeps): TaskService {
  return {
    async submitTask(submission) {
      const runner = runners.runners.get(submission.runner);
      if (runner === undefined) {
        throw new AppError('UNKNOWN_RUNNER', `unknown runner '${submission.runner}'`, {
          details: [{ path: '/runner', message: `no runner named '${submission.runner}' is configured` }],
        });
      }
      const input = submission.input ?? null;
      const violations = runner.validateInput(input);
      if (violations.length > 0) {
        const list = violations.map((v) => `${v.path}: ${v.message}`).join('; ');
        throw new AppError('INPUT_INVALID', `input does not match the input_schema of runner '${runner.name}': ${list}`, {
          details: violations,
        });
      }
      const id = newTaskId();
      const expireInSeconds = jobExpirySeconds(runner.timeoutMs);
      return withTransaction(pool, async (client) => {
        const task = await insertTask(client, { id, runner: runner.name, inputJson: JSON.stringify(input) });
        await queue.enqueue(client, id, { expireInSeconds });
        return task;
      });
    },

    async getTask(id) {
      const task = isTaskId(id) ? await findTask(pool, id) : null;
      if (task === null) throw new AppError('TASK_NOT_FOUND', `no task with id '${id}'`);
      return task;
    },

    async getTaskLogs(id) {
      const logs = isTaskId(id) ? await findTaskLogs(pool, id) : null;
      if (logs === null) throw new AppError('TASK_NOT_FOUND', `no task with id '${id}'`);
      return logs;
    },
  };
}
