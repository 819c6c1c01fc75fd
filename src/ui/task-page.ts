/**
 * #/tasks/<id>: one task (status, input, output, error, attempts, callback deliveries), its log
 * followed live while it is not final, Cancel while it is queued or running, and Run again, with
 * the same input or an edited one. The log and the edited input are drawn once; the rest is drawn
 * again at each refresh.
 */
import { isFinalTask, type Task } from '../client/index.ts';
import { button, el, fields, hrefOf, jsonText, link, present, statusBadge, table, timeText } from './dom.ts';
import { parseJsonInput, repeat, type ViewContext } from './view.ts';

const REFRESH_MS = 1_500;

export async function taskPage(context: ViewContext, id: string): Promise<void> {
  const { client, signal } = context;
  const details = el('div', { id: 'task-details' }, el('p', { class: 'muted' }, 'Loading…'));
  const log = el('pre', { id: 'task-log' });
  const rerun = el('section', { id: 'task-rerun' });
  context.root.replaceChildren(el('h1', {}, 'Task ', el('span', { class: 'mono' }, id)), details, el('h2', {}, 'Log (stderr)'), log, rerun);

  let task = await client.tasks.get(id, { signal });
  const show = (next: Task): void => { task = next; details.replaceChildren(...taskDetails(context, next, show)); };
  show(task);
  rerun.replaceChildren(...rerunForm(context, task));
  void followLog(context, task, log).then(async () => { if (!signal.aborted) show(await client.tasks.get(id, { signal })); })
    .catch((error: unknown) => context.report(error));
  await repeat(context, REFRESH_MS, async () => {
    if (isFinalTask(task)) return 'stop';
    show(await client.tasks.get(id, { signal }));
  });
}

/** The log into `pre`: all of it for a final task; for another, followed as it is written until the task ends. */
async function followLog(context: ViewContext, task: Task, pre: HTMLPreElement): Promise<void> {
  const follow = !isFinalTask(task);
  pre.dataset['following'] = String(follow);
  for await (const chunk of context.client.tasks.logs(task.id, { follow, signal: context.signal })) pre.append(chunk);
  pre.dataset['following'] = 'false';
  if (pre.textContent === '') pre.append(el('span', { class: 'muted' }, '(empty)'));
}

function taskDetails(context: ViewContext, task: Task, show: (task: Task) => void): Node[] {
  const cancel = isFinalTask(task) ? null : button('Cancel', () => {
    context.client.tasks.cancel(task.id, { signal: context.signal }).then(show, (error: unknown) => context.report(error));
  }, { id: 'task-cancel' });
  return present<Node>([
    el('div', { class: 'actions' }, el('span', { id: 'task-status' }, statusBadge(task.status)), cancel),
    fields([
      ['Runner', link(task.runner, 'runners')],
      ['Attempts', `${task.attempts} of at most ${task.maxAttempts}`],
      ['Exit code', task.exitCode === null ? '—' : String(task.exitCode)],
      ['Priority', String(task.priority)],
      ['Created', timeText(task.createdAt)],
      ['Started', timeText(task.startedAt)],
      ['Finished', timeText(task.finishedAt)],
      ['Next attempt', task.nextAttemptAt === null ? undefined : timeText(task.nextAttemptAt)],
      ['Workflow run', task.workflowId === null ? undefined : el('span', {}, link(task.workflowId, 'runs', task.workflowId), ` step ${task.stepId ?? ''}`)],
      ['Schedule', task.schedule === null ? undefined : `${task.schedule} (tick ${timeText(task.scheduledFor)})`],
      ['Callback', task.callbackUrl ?? undefined],
    ]),
    task.error === null ? null : el('p', { id: 'task-error', class: 'form-error' }, `${task.error.code}: ${task.error.message}`),
    el('div', { class: 'columns' },
      el('div', {}, el('h2', {}, 'Input'), el('pre', { id: 'task-input' }, jsonText(task.input))),
      el('div', {}, el('h2', {}, 'Output'), el('pre', { id: 'task-output' }, task.status === 'succeeded' ? jsonText(task.output) : '—'))),
    el('h2', {}, 'Attempts'),
    task.attemptHistory.length === 0 ? el('p', { class: 'muted' }, 'None yet.') : table(['#', 'Started', 'Finished', 'Exit code', 'Error'],
      task.attemptHistory.map((attempt) => [
        String(attempt.attempt), timeText(attempt.startedAt), timeText(attempt.finishedAt),
        attempt.exitCode === null ? '—' : String(attempt.exitCode),
        attempt.error === null ? '' : `${attempt.error.code}: ${attempt.error.message}`,
      ]), { id: 'task-attempts' }),
    el('h2', {}, 'Callback deliveries'),
    task.callbackDeliveries.length === 0 ? el('p', { class: 'muted' }, task.callbackUrl === null ? 'No callback.' : 'None yet.')
      : table(['#', 'At', 'HTTP status', 'Error'], task.callbackDeliveries.map((delivery) => [
        String(delivery.attempt), timeText(delivery.attemptedAt), delivery.statusCode === null ? '—' : String(delivery.statusCode), delivery.error ?? '',
      ]), { id: 'task-deliveries' }),
  ]);
}

function rerunForm(context: ViewContext, task: Task): Node[] {
  const problem = el('p', { class: 'form-error', id: 'rerun-problem' });
  const textarea = el('textarea', { id: 'rerun-input', spellcheck: 'false' });
  textarea.value = jsonText(task.input);
  const submit = (input: unknown): void => {
    context.client.tasks.submit(task.runner, input, { signal: context.signal })
      .then((next) => context.navigate(hrefOf('tasks', next.id)), (error: unknown) => context.report(error));
  };
  return [
    el('h2', {}, 'Run again'),
    el('div', { class: 'actions' }, button(`Run again with the same input`, () => submit(task.input), { id: 'rerun-same' })),
    el('label', { for: 'rerun-input' }, `Or edit the input (JSON) and submit a new task of ${task.runner}:`),
    textarea,
    el('div', { class: 'actions' }, button('Run with this input', () => {
      problem.textContent = '';
      let input: unknown;
      try { input = parseJsonInput(textarea.value); } catch (error) { problem.textContent = `Not JSON: ${(error as Error).message}`; return; }
      submit(input);
    }, { id: 'rerun-edited' })),
    problem,
  ];
}
