/**
 * Cursors of listings (tasks, workflow runs), opaque to clients: the last id of the previous page,
 * encoded. Ids are UUIDv7, so pages by `id < cursor` are stable while rows are added.
 */
import { AppError } from '../errors.ts';
import { isTaskId } from './task-id.ts';

export function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isTaskId(id)) {
    throw new AppError('VALIDATION_FAILED', 'invalid cursor', { details: [{ path: 'querystring/cursor', message: 'is not a cursor this API returned' }] });
  }
  return id;
}
