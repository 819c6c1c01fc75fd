/**
 * Cursors of listings (tasks, workflow runs), opaque to clients: the last id of the previous page,
 * encoded. Ids are UUIDv7, so pages by `id < cursor` are stable while rows are added.
 */
import { AppError } from '../errors.ts';
import { isTaskId } from './task-id.ts';

/** A page of `limit` from rows fetched with limit + 1: the extra row says whether another page follows. */
export function pageOf<T extends { readonly id: string }>(rows: readonly T[], limit: number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1]!.id) : null };
}

/**
 * A page of whole rows (fields=full) cut by size: `sizes` are the page's ids and bytes, fetched with
 * limit + 1 and before any row is loaded; only the rows that fit in `budget` are then loaded, newest
 * first. The cursor goes on from the last id chosen, even if retention took that row meanwhile.
 */
export async function pageByBytes<T extends { readonly id: string }>(
  sizes: readonly { id: string; bytes: number }[], limit: number, budget: number, load: (ids: readonly string[]) => Promise<T[]>,
): Promise<{ items: T[]; nextCursor: string | null }> {
  const chosen = withinBytes(sizes.slice(0, limit), budget);
  const items = (await load(chosen)).sort((a, b) => (a.id < b.id ? 1 : -1));
  return { items, nextCursor: sizes.length > chosen.length ? encodeCursor(chosen[chosen.length - 1]!) : null };
}

/** The ids of the first rows whose bytes fit in `budget`; at least one, so a page always moves on. */
function withinBytes(rows: readonly { id: string; bytes: number }[], budget: number): string[] {
  const ids: string[] = [];
  let total = 0;
  for (const row of rows) {
    total += row.bytes;
    if (ids.length > 0 && total > budget) break;
    ids.push(row.id);
  }
  return ids;
}

function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isTaskId(id)) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor', { details: [{ path: 'querystring/cursor', message: 'is not a cursor this API returned' }] });
  }
  return id;
}
