/**
 * Older and newest pages of a list (#/tasks, #/runs): the API's cursor kept in the route's query
 * beside its filters, so a page of older items can be linked to, reloaded and refreshed (cursors
 * stay stable while items are added).
 */
import { el, listHref } from './dom.ts';

/** Links to the next (older) page, and back to the newest when this is not it; null when neither applies. */
export function pager(section: string, query: URLSearchParams, nextCursor: string | null): HTMLElement | null {
  const at = (cursor: string | null): string => listHref(section, { ...Object.fromEntries(query), cursor: cursor ?? '' });
  const newest = query.has('cursor') ? el('a', { href: at(null), id: `${section}-newest` }, '← Newest') : null;
  const older = nextCursor === null ? null : el('a', { href: at(nextCursor), id: `${section}-older` }, 'Older →');
  return newest === null && older === null ? null : el('p', { class: 'actions pager' }, newest, older);
}
