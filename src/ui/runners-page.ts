/**
 * #/runners: each runner with its input schema and a form to submit a task of it: a JSON
 * textarea, prefilled from the schema when it is simple (input-template.ts); a submitted task's
 * page comes next.
 */
import type { RunnerView } from '../client/index.ts';
import { button, el, fields, hrefOf, jsonText, present } from './dom.ts';
import { inputTemplate } from './input-template.ts';
import { parseJsonInput, type ViewContext } from './view.ts';

export async function runnersPage(context: ViewContext): Promise<void> {
  context.root.replaceChildren(el('h1', {}, 'Runners'), el('p', { class: 'muted' }, 'Loading…'));
  const runners = await context.client.runners.list({ signal: context.signal });
  context.root.replaceChildren(el('h1', {}, 'Runners'), ...present<Node>([
    runners.length === 0 ? el('p', { class: 'muted' }, 'No runners this key may use.') : null,
    ...runners.map((runner) => runnerCard(context, runner))]));
}

function runnerCard(context: ViewContext, runner: RunnerView): HTMLElement {
  const textarea = el('textarea', { id: `input-${runner.name}`, 'data-runner': runner.name, spellcheck: 'false', 'aria-label': `input of ${runner.name}` });
  textarea.value = jsonText(inputTemplate(runner.input_schema));
  const problem = el('p', { class: 'form-error' });
  const submit = button('Submit task', () => {
    problem.textContent = '';
    let input: unknown;
    try { input = parseJsonInput(textarea.value); } catch (error) { problem.textContent = `Not JSON: ${(error as Error).message}`; return; }
    submit.disabled = true;
    context.client.tasks.submit(runner.name, input, { signal: context.signal }).then(
      (task) => context.navigate(hrefOf('tasks', task.id)),
      (error: unknown) => { submit.disabled = false; context.report(error); },
    );
  }, { id: `submit-${runner.name}`, 'data-runner': runner.name });
  return el('section', { class: 'card', id: `runner-${runner.name}` },
    el('h2', {}, runner.name),
    fields([['Image', el('span', { class: 'mono' }, runner.image)], ['Timeout', `${runner.timeout} s`], ['Output', runner.output]]),
    el('div', { class: 'columns' },
      el('div', {}, el('h2', {}, 'Input schema'),
        el('pre', {}, runner.input_schema === null ? 'none: any JSON is accepted' : jsonText(runner.input_schema))),
      el('div', {}, el('h2', {}, 'Input'), textarea, el('div', { class: 'actions' }, submit), problem)));
}
