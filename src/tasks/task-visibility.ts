/**
 * Which tasks an API key reaches, in one place: the tasks of its runners, and of those that are
 * workflow steps only the steps of runs of workflows it may use too — a step's input carries its
 * run's input and its parents' outputs. Single reads (task-service, task-watch) ask mayRead; lists
 * filter in SQL with the same rule (listFilter, task-store's FILTERED).
 */
import type { Pool } from '../db.ts';
import { likePatterns, mayUseRunner, mayUseWorkflow, type Access } from '../runners/access.ts';
import { findRunWorkflow } from './workflow-store.ts';

export async function mayRead(pool: Pool, access: Access, task: { readonly runner: string; readonly workflowId: string | null }): Promise<boolean> {
  if (!mayUseRunner(access, task.runner)) return false;
  if (task.workflowId === null || access.workflows === undefined) return true;
  const workflow = await findRunWorkflow(pool, task.workflowId);
  return workflow !== null && mayUseWorkflow(access, workflow);
}

/** The same rule as LIKE patterns for task-store's list filter; empty for an unlimited key. */
export function listFilter(access: Access): { runnerLike?: readonly string[]; workflowLike?: readonly string[] } {
  return {
    ...(access.runners === undefined ? {} : { runnerLike: likePatterns(access.runners) }),
    ...(access.workflows === undefined ? {} : { workflowLike: likePatterns(access.workflows) }),
  };
}
