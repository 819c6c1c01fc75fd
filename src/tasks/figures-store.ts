/**
 * SQL for the figures metrics read at scrape time (metrics.ts): one cheap statement each, over
 * the rows an index narrows (unfinished tasks; workflow runs, which are few beside tasks).
 */
import type { Queryable } from '../db.ts';

export interface RunnerFigures {
  readonly runner: string;
  readonly queued: number;
  readonly oldestQueuedSeconds: number;
  readonly running: number;
}

/**
 * Per runner with unfinished tasks: the queued tasks whose time has come (their start time, their
 * retry's backoff), how long the longest-waiting of them has been due, and the running tasks.
 * A task's due time is the latest of its creation, start time and next attempt.
 */
export async function readRunnerFigures(db: Queryable): Promise<RunnerFigures[]> {
  const { rows } = await db.query<{ runner: string; queued: number; oldest_seconds: number | null; running: number }>(
    `select runner,
            count(*) filter (where status = 'queued' and due <= now())::int as queued,
            extract(epoch from now() - min(due) filter (where status = 'queued' and due <= now()))::float8 as oldest_seconds,
            count(*) filter (where status = 'running')::int as running
       from (select runner, status, greatest(created_at, run_after, next_attempt_at) as due
               from berth.tasks where status in ('queued', 'running')) unfinished
      group by runner`,
  );
  return rows.map((row) => ({ runner: row.runner, queued: row.queued, oldestQueuedSeconds: row.oldest_seconds ?? 0, running: row.running }));
}

export async function readWorkflowRunFigures(db: Queryable): Promise<{ status: string; count: number }[]> {
  const { rows } = await db.query<{ status: string; count: number }>('select status, count(*)::int as count from berth.workflow_runs group by status');
  return rows;
}
