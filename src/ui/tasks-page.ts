/**
 * #/tasks: the tasks, 50 a page from the newest (older pages by the API's cursor), filtered by
 * runner and status (and, from a workflow run's graph, by run), refreshed every few seconds. Each
 * row links to its task. A filter changed starts again from the newest.
 */
import type { TaskListItem } from '../client/index.ts';
import { TASK_STATUSES } from '../tasks/task-status.ts';
import { el, link, listHref, select, shortId, statusBadge, table, timeText } from './dom.ts';
import { pager } from './paging.ts';
import { repeat, type ViewContext } from './view.ts';

const REFRESH_MS = 3_000;

export async function tasksPage(context: ViewContext): Promise<void> {
  const { client, query } = context;
  const runner = query.get('runner') ?? '';
  const status = query.get('status') ?? '';
  const workflowId = query.get('workflowId') ?? '';
  const cursor = query.get('cursor') ?? '';

  const runnerSelect = select('filter-runner', 'any runner', runner === '' ? [] : [runner], runner);
  const statusSelect = select('filter-status', 'any status', TASK_STATUSES, status);
  const apply = (): void => context.navigate(listHref('tasks', { runner: runnerSelect.value, status: statusSelect.value, workflowId }));
  runnerSelect.addEventListener('change', apply);
  statusSelect.addEventListener('change', apply);

  const list = el('div', { id: 'tasks-list' }, el('p', { class: 'muted' }, 'Loading…'));
  const updated = el('span', { class: 'muted', id: 'tasks-updated' });
  context.root.replaceChildren(
    el('h1', {}, 'Tasks'),
    el('div', { class: 'filters' },
      el('label', {}, 'Runner ', runnerSelect), el('label', {}, 'Status ', statusSelect),
      workflowId === '' ? null : el('span', {}, 'of workflow run ', link(shortId(workflowId), 'runs', workflowId)),
      updated),
    list,
  );

  client.runners.list({ signal: context.signal }).then((runners) => {
    for (const { name } of runners) if (name !== runner) runnerSelect.append(el('option', { value: name }, name));
  }, (error: unknown) => context.report(error));

  await repeat(context, REFRESH_MS, async () => {
    const page = await client.tasks.listPage({
      limit: 50, ...(runner === '' ? {} : { runner }), ...(status === '' ? {} : { status: status as TaskListItem['status'] }),
      ...(workflowId === '' ? {} : { workflowId }), ...(cursor === '' ? {} : { cursor }),
    }, { signal: context.signal });
    list.replaceChildren(page.items.length === 0 ? el('p', { class: 'muted' }, 'No tasks.') : tasksTable(page.items));
    const links = pager('tasks', query, page.nextCursor);
    if (links !== null) list.append(links);
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  });
}

function tasksTable(items: readonly TaskListItem[]): HTMLTableElement {
  return table(['Task', 'Runner', 'Status', 'Created', 'Finished', 'Attempts', 'Step of'], items.map((task) => [
    link(el('span', { class: 'mono', title: task.id }, shortId(task.id)), 'tasks', task.id),
    task.runner, statusBadge(task.status), timeText(task.createdAt), timeText(task.finishedAt), `${task.attempts}/${task.maxAttempts}`,
    task.workflowId === null ? '' : link(task.stepId ?? shortId(task.workflowId), 'runs', task.workflowId),
  ]), { class: 'tasks' });
}
