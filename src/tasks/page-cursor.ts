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

/** The ids of the first rows whose bytes fit in `budget`; at least one, so a page always moves on. */
export function withinBytes(rows: readonly { id: string; bytes: number }[], budget: number): string[] {
  const ids: string[] = [];
  let total = 0;
  for (const row of rows) {
    total += row.bytes;
    if (ids.length > 0 && total > budget) break;
    ids.push(row.id);
  }
  return ids;
}

/** The cursor of the page after the row with this id. */
export function cursorAfter(id: string): string {
  return encodeCursor(id);
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
