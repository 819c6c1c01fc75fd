/**
 * A task's statuses and the transitions between them, as data. The lifecycle (task-lifecycle.ts)
 * is the only code that changes a status, and each of its operations is one of these transitions;
 * the stores' WHERE clauses fence each write to the `from` statuses named here.
 *
 *   submit     (new)            → queued
 *   claim      queued           → running      (or stays queued, parked, while its runner is full)
 *   settle     running          → succeeded | failed | queued (a retry after its backoff)
 *   interrupt  running          → queued       (the worker shut down: not the task's failure)
 *   reclaim    running          → queued | failed (its worker was lost: a retry, or the end)
 *   cancel     queued | running → cancelled
 *   reject     (new)            → failed       (a workflow step's task whose input its runner refuses: no container runs)
 */
export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const FINAL_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

/** A workflow run's statuses (workflow-progress.ts derives them from its steps'): running until every step is final. */
export const RUN_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export type TransitionName = 'submit' | 'claim' | 'settle' | 'interrupt' | 'reclaim' | 'cancel' | 'reject';

export const TRANSITIONS: Readonly<Record<TransitionName, { readonly from: readonly TaskStatus[]; readonly to: readonly TaskStatus[] }>> = {
  submit: { from: [], to: ['queued'] },
  claim: { from: ['queued'], to: ['running'] },
  settle: { from: ['running'], to: ['succeeded', 'failed', 'queued'] },
  interrupt: { from: ['running'], to: ['queued'] },
  reclaim: { from: ['running'], to: ['queued', 'failed'] },
  cancel: { from: ['queued', 'running'], to: ['cancelled'] },
  reject: { from: [], to: ['failed'] },
};

export function isFinal(status: TaskStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/** Whether some operation of the lifecycle takes a task from `from` to `to`. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return Object.values(TRANSITIONS).some((t) => t.from.includes(from) && t.to.includes(to));
}
