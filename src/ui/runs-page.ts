/**
 * #/runs: the workflow runs, 50 a page from the newest, filtered by status and workflow (each run's
 * workflow links to its filter), refreshed every few seconds; #/runs/<id>: one run, its steps
 * drawn as a graph (run-graph.ts) and listed, with Cancel while it runs and Retry once it failed.
 */
import { isFinalRun, type WorkflowRun } from '../client/index.ts';
import { RUN_STATUSES, type RunStatus } from '../tasks/task-status.ts';
import { button, el, fields, jsonText, link, listHref, present, select, shortId, statusBadge, table, timeText } from './dom.ts';
import { pager } from './paging.ts';
import { runGraph } from './run-graph.ts';
import { repeat, type ViewContext } from './view.ts';

const LIST_REFRESH_MS = 3_000;
const RUN_REFRESH_MS = 1_500;

export async function runsPage(context: ViewContext): Promise<void> {
  const { query } = context;
  const status = query.get('status') ?? '';
  const workflow = query.get('workflow') ?? '';
  const cursor = query.get('cursor') ?? '';
  const statusSelect = select('filter-run-status', 'any status', RUN_STATUSES, status);
  statusSelect.addEventListener('change', () => context.navigate(listHref('runs', { status: statusSelect.value, workflow })));
  const list = el('div', { id: 'runs-list' }, el('p', { class: 'muted' }, 'Loading…'));
  context.root.replaceChildren(el('h1', {}, 'Workflow runs'),
    el('div', { class: 'filters' }, el('label', {}, 'Status ', statusSelect),
      workflow === '' ? null : el('span', {}, `of workflow ${workflow} `, el('a', { href: '#/runs' }, '(all)'))),
    list);
  await repeat(context, LIST_REFRESH_MS, async () => {
    const page = await context.client.workflows.listPage({
      limit: 50, ...(status === '' ? {} : { status: status as RunStatus }),
      ...(workflow === '' ? {} : { workflow }), ...(cursor === '' ? {} : { cursor }),
    }, { signal: context.signal });
    list.replaceChildren(page.items.length === 0 ? el('p', { class: 'muted' }, 'No workflow runs.')
      : table(['Run', 'Workflow', 'Status', 'Created', 'Finished', 'Failed step'], page.items.map((run) => [
        link(el('span', { class: 'mono', title: run.id }, shortId(run.id)), 'runs', run.id),
        el('a', { href: listHref('runs', { workflow: run.workflow }) }, run.workflow),
        statusBadge(run.status), timeText(run.createdAt), timeText(run.finishedAt), run.error?.step ?? '',
      ]), { class: 'runs' }));
    const links = pager('runs', query, page.nextCursor);
    if (links !== null) list.append(links);
  });
}

export async function runPage(context: ViewContext, id: string): Promise<void> {
  const { client, signal } = context;
  const body = el('div', { id: 'run-details' }, el('p', { class: 'muted' }, 'Loading…'));
  context.root.replaceChildren(el('h1', {}, 'Workflow run ', el('span', { class: 'mono' }, id)), body);
  let run: WorkflowRun | undefined;
  const show = (next: WorkflowRun): void => { run = next; body.replaceChildren(...runDetails(context, next, show)); };
  // Not stopped once the run is final: a retry makes it run again.
  await repeat(context, RUN_REFRESH_MS, async () => {
    if (run === undefined || !isFinalRun(run)) show(await client.workflows.get(id, { signal }));
  });
}

function runDetails(context: ViewContext, run: WorkflowRun, show: (run: WorkflowRun) => void): Node[] {
  const act = (call: Promise<WorkflowRun>): void => { call.then(show, (error: unknown) => context.report(error)); };
  return present<Node>([
    el('div', { class: 'actions' },
      el('span', { id: 'run-status' }, statusBadge(run.status)),
      run.status === 'running' ? button('Cancel', () => act(context.client.workflows.cancel(run.id, { signal: context.signal })), { id: 'run-cancel' }) : null,
      run.status === 'failed' ? button('Retry', () => act(context.client.workflows.retry(run.id, { signal: context.signal })), { id: 'run-retry' }) : null),
    fields([
      ['Workflow', run.workflow],
      ['Created', timeText(run.createdAt)],
      ['Finished', timeText(run.finishedAt)],
      ['Error', run.error === null ? undefined : `step ${run.error.step}: ${run.error.code}: ${run.error.message}`],
      ['Schedule', run.schedule === null ? undefined : `${run.schedule} (tick ${timeText(run.scheduledFor)})`],
      ['Tasks', el('a', { href: `#/tasks?workflowId=${encodeURIComponent(run.id)}` }, 'every task of this run')],
    ]),
    el('h2', {}, 'Steps'),
    runGraph(run),
    table(['Step', 'Runner', 'Needs', 'Status', 'Tasks', 'Error'], run.steps.map((step) => [
      step.id, step.runner, step.needs.join(', '), statusBadge(step.status),
      el('span', {}, ...step.taskIds.flatMap((taskId, index) => [index === 0 ? '' : ' ', link(el('span', { class: 'mono' }, shortId(taskId)), 'tasks', taskId)])),
      step.error === null ? '' : `${step.error.code}: ${step.error.message}`,
    ]), { id: 'run-steps' }),
    el('div', { class: 'columns' },
      el('div', {}, el('h2', {}, 'Input'), el('pre', { id: 'run-input' }, jsonText(run.input))),
      el('div', {}, el('h2', {}, 'Output'), el('pre', { id: 'run-output' }, run.status === 'succeeded' ? jsonText(run.output) : '—'))),
  ]);
}
