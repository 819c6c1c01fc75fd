/**
 * Group commit: items that arrive while commits are in flight wait, then go to the database
 * together, in one transaction, and each caller is answered once the commit holding its item is
 * done. An idle service commits at once, so a lone caller waits for nothing; under load, a
 * transaction's fixed cost (connection, round trips, the commit's flush) is shared by its group.
 * This is what lets single POST /tasks approach the batch endpoint's rate (bench/RESULTS.md).
 */
export interface GroupCommitOptions {
  /** Most items in one commit. */
  readonly maxGroup: number;
  /** Commits in flight at once: while one commits, the next group fills. */
  readonly maxInFlight: number;
  /**
   * Whether a failed commit may be the fault of one item in it (as opposed to, say, the database
   * being down): then each item of the group is committed alone, so only the culprit fails.
   */
  readonly mayBeOneItem: (error: unknown) => boolean;
}

/** `commit` writes all its items or none, and returns one result per item, in their order. */
export type CommitGroup<T, R> = (items: readonly T[]) => Promise<readonly R[]>;

interface Waiting<T, R> {
  readonly item: T;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

export function groupCommit<T, R>(commit: CommitGroup<T, R>, options: GroupCommitOptions): (item: T) => Promise<R> {
  const waiting: Waiting<T, R>[] = [];
  let inFlight = 0;

  async function commitChecked(items: readonly T[]): Promise<readonly R[]> {
    const results = await commit(items);
    if (results.length !== items.length) throw new Error(`a group commit of ${items.length} items returned ${results.length} results`);
    return results;
  }

  async function commitGroup(group: readonly Waiting<T, R>[]): Promise<void> {
    try {
      const results = await commitChecked(group.map((w) => w.item));
      group.forEach((w, i) => w.resolve(results[i]!));
    } catch (error) {
      if (group.length === 1 || !options.mayBeOneItem(error)) {
        for (const w of group) w.reject(error);
        return;
      }
      await Promise.all(group.map((w) => commitChecked([w.item]).then((results) => w.resolve(results[0]!), w.reject)));
    }
  }

  async function drain(): Promise<void> {
    inFlight += 1;
    try {
      while (waiting.length > 0) await commitGroup(waiting.splice(0, options.maxGroup));
    } finally {
      inFlight -= 1;
    }
  }

  return (item) => new Promise<R>((resolve, reject) => {
    waiting.push({ item, resolve, reject });
    // drain() cannot reject: commitGroup settles every caller itself.
    if (inFlight < options.maxInFlight) void drain();
  });
}
