/**
 * Watching tasks without polling: waiting for a task to finish, and following its log as it is
 * written. Both wake on the process's one LISTEN connection (task-events.ts) and re-read the
 * database only when something happened — or when that connection was re-established, since
 * events sent while it was down are lost.
 */
import { AppError } from '../errors.ts';
import { FULL_ACCESS, type Access } from '../runners/access.ts';
import { mayRead } from './task-visibility.ts';
import type { Pool } from '../db.ts';
import type { TaskEventKind, TaskEvents } from '../task-events.ts';
import { readLog } from './log-store.ts';
import { isTaskId } from './task-id.ts';
import type { Task } from './task-schemas.ts';
import { isFinal } from './task-status.ts';
import { findTask } from './task-store.ts';


export interface TaskWatch {
  /** The task once it is final, or as it is when `waitMs` has passed (or the process shuts down). */
  waitForTask(id: string, waitMs: number, access?: Access): Promise<Task>;
  /**
   * The same for a task this process has just committed and holds as committed (a submission
   * with Prefer: wait): that copy stands in for the first read.
   */
  waitForCommitted(task: Task, waitMs: number): Promise<Task>;
  /**
   * The same for anything whose end is announced as a 'final' event under `id` (a workflow run):
   * `load` reads it, `isDone` says whether it is final.
   */
  waitFor<T>(id: string, waitMs: number, load: () => Promise<T>, isDone: (value: T) => boolean): Promise<T>;
  /** stderr of one attempt (default: the latest) as stored now. */
  readLogs(id: string, attempt?: number, access?: Access): Promise<Buffer>;
  /** stderr as it is written, from the requested attempt (default: the latest) on, until the task is final. */
  followLogs(id: string, attempt?: number, access?: Access): AsyncIterable<Buffer>;
}

export function createTaskWatch(deps: { pool: Pool; events: TaskEvents; shutdown: AbortSignal }): TaskWatch {
  const { pool, events, shutdown } = deps;

  /** A task outside `access` reads as missing, as in the task service. */
  async function load(id: string, access: Access = FULL_ACCESS): Promise<Task> {
    const task = isTaskId(id) ? await findTask(pool, id) : null;
    if (task === null || !(await mayRead(pool, access, task))) throw new AppError('TASK_NOT_FOUND', `no task with id '${id}'`);
    return task;
  }

  /** Subscribes first, so nothing that happens between a read and the wait is missed. */
  function wakeOn(id: string, kinds: ReadonlySet<TaskEventKind | 'resync'>) {
    let wake: () => void = () => undefined;
    let pending = false;
    const unsubscribe = events.subscribe(id, (kind) => {
      if (!kinds.has(kind)) return;
      pending = true;
      wake();
    });
    return {
      unsubscribe,
      /** Resolves at the next event (or at once if one came since the last call), at `ms`, or at shutdown. */
      next(ms: number): Promise<void> {
        if (pending || shutdown.aborted) { pending = false; return Promise.resolve(); }
        return new Promise((resolve) => {
          const done = (): void => { clearTimeout(timer); shutdown.removeEventListener('abort', done); pending = false; resolve(); };
          const timer = setTimeout(done, ms);
          shutdown.addEventListener('abort', done, { once: true });
          wake = done;
        });
      },
    };
  }

  /** `known`: the value as read at its own commit, taken instead of a first read unless it ended since. */
  async function waitFor<T>(id: string, waitMs: number, read: () => Promise<T>, isDone: (value: T) => boolean, known?: T): Promise<T> {
    const deadline = Date.now() + waitMs;
    const watch = wakeOn(id, new Set(['final', 'resync']));
    try {
      // Subscribed before this check: an end from the commit until now is either remembered or
      // still to come, unless the connection is down (its events lost): then read.
      let value = known !== undefined && events.connected && !events.endedRecently(id) ? known : await read();
      for (;;) {
        const left = deadline - Date.now();
        if (isDone(value) || left <= 0 || shutdown.aborted) return value;
        await watch.next(left);
        value = await read();
      }
    } finally {
      watch.unsubscribe();
    }
  }

  return {
    waitForTask: (id, waitMs, access) => waitFor(id, waitMs, () => load(id, access), (task) => isFinal(task.status)),
    waitForCommitted: (task, waitMs) => waitFor(task.id, waitMs, () => load(task.id), (current) => isFinal(current.status), task),
    waitFor,

    async readLogs(id, attempt, access) {
      const task = await load(id, access);
      const chunks = await readLog(pool, task.id, attempt ?? task.attempts, 0);
      return Buffer.concat(chunks.map((c) => c.content));
    },

    async *followLogs(id, attempt, access) {
      const watch = wakeOn(id, new Set(['log', 'final', 'status', 'resync']));
      try {
        let task = await load(id, access);
        let current = attempt ?? Math.max(task.attempts, 1);
        let seq = 0;
        for (;;) {
          const chunks = await readLog(pool, task.id, current, seq);
          for (const chunk of chunks) {
            seq = chunk.seq;
            yield chunk.content;
          }
          if (task.attempts > current && attempt === undefined) {
            // The attempt being followed is over and a newer one started: follow that one.
            current += 1;
            seq = 0;
            continue;
          }
          if (isFinal(task.status) || (attempt !== undefined && task.attempts > attempt) || shutdown.aborted) return;
          await watch.next(30_000);
          task = await load(id, access);
        }
      } finally {
        watch.unsubscribe();
      }
    },
  };
}
