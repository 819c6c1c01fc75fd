/**
 * The web page's entry: the key form, the notice, and the hash router. Each route draws into
 * <main>; going to another aborts the last one's signal, which ends its refreshing and its
 * followed log. Failures show in the notice, in the API's own words (session.ts).
 */
import { runnersPage } from './runners-page.ts';
import { runPage, runsPage } from './runs-page.ts';
import { schedulesPage } from './schedules-page.ts';
import { clientFor, errorText, keyLabel, storedKey, storeKey } from './session.ts';
import { taskPage } from './task-page.ts';
import { tasksPage } from './tasks-page.ts';
import { el } from './dom.ts';
import type { View, ViewContext } from './view.ts';

const ROUTES: Readonly<Record<string, { list?: View; one?: View }>> = {
  tasks: { list: tasksPage, one: taskPage },
  runs: { list: runsPage, one: runPage },
  runners: { list: runnersPage },
  schedules: { list: schedulesPage },
};

const root = document.getElementById('view')!;
const notice = document.getElementById('notice')!;
const keyInput = document.getElementById('key-input') as HTMLInputElement;
const keyState = document.getElementById('key-state')!;

let key = storedKey();
let client = clientFor(key);
let current: AbortController | undefined;

function showKey(): void {
  keyState.textContent = `using ${keyLabel(key)}`;
}

function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

function route(): void {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  notice.hidden = true;
  notice.textContent = '';
  // Which route is drawn, for tests and for styling: the hash as it is.
  root.dataset['route'] = location.hash;
  const [path = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [section = 'tasks', id, ...rest] = path.split('/').filter((part) => part !== '').map(decodeURIComponent);
  for (const anchor of document.querySelectorAll('nav a')) anchor.classList.toggle('current', anchor.getAttribute('href') === `#/${section}`);
  const entry = ROUTES[section];
  const view = rest.length > 0 ? undefined : id === undefined ? entry?.list : entry?.one;
  const context: ViewContext = {
    root, client, signal: controller.signal, query: new URLSearchParams(search),
    navigate: (hash) => { location.hash = hash; },
    report: (error) => {
      if (controller.signal.aborted || isAbort(error)) return;
      notice.textContent = errorText(error, key);
      notice.hidden = false;
    },
  };
  if (view === undefined) {
    root.replaceChildren(el('h1', {}, 'No such page'), el('p', {}, el('a', { href: '#/tasks' }, 'Tasks')));
    return;
  }
  Promise.resolve().then(() => view(context, ...(id === undefined ? [] : [id]))).catch(context.report);
}

document.getElementById('key-form')!.addEventListener('submit', (event) => {
  event.preventDefault();
  key = keyInput.value.trim();
  keyInput.value = '';
  storeKey(key);
  client = clientFor(key);
  showKey();
  route();
});
document.getElementById('key-forget')!.addEventListener('click', () => {
  key = '';
  storeKey('');
  client = clientFor('');
  showKey();
  route();
});
window.addEventListener('hashchange', route);
showKey();
route();
