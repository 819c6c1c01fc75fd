/**
 * What the lifecycle tells about tasks as their status changes, for metrics: in Berth's own
 * types, so src/tasks/ knows nothing of how they are counted (metrics.ts, built at the entry points).
 * Called after the transaction that made the change commits, never for a change rolled back.
 */
export interface TaskObserver {
  /** A task was created: queued, or (a workflow step's input refused) failed at once. */
  submitted(runner: string): void;
  /** A task's attempt started; queuedMs: from its submission (or start time, if later) to its first attempt, null for a later attempt. */
  started(runner: string, queuedMs: number | null): void;
  /** A task reached a final status; durationMs: its last attempt's run time, null when it never ran. */
  finished(runner: string, status: 'succeeded' | 'failed' | 'cancelled', durationMs: number | null): void;
}

export const NO_TASK_OBSERVER: TaskObserver = { submitted() {}, started() {}, finished() {} };
