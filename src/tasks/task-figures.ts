/**
 * What the database says about the work at this moment, for the metrics read at scrape time:
 * queue depth and age and running tasks per runner, workflow runs per status. Facts of the
 * database rather than counts kept by a process, so every API replica reports the same.
 */
import type { Pool } from '../db.ts';
import { readRunnerFigures, readWorkflowRunFigures, type RunnerFigures } from './figures-store.ts';

export interface TaskFigures {
  readonly runners: readonly RunnerFigures[];
  readonly workflowRuns: readonly { readonly status: string; readonly count: number }[];
}

export function createTaskFigures(pool: Pool): () => Promise<TaskFigures> {
  return async () => {
    const [runners, workflowRuns] = await Promise.all([readRunnerFigures(pool), readWorkflowRunFigures(pool)]);
    return { runners, workflowRuns };
  };
}
