/**
 * The web page at /ui in a real browser (Debian's Chromium driven by playwright-core) against a
 * real Berth (`berth start` on the first engine under test, test/fixtures/client-runners.yaml):
 * keys and their 401 and 403, a runner's form, a log followed as it is written, Run again, Cancel,
 * a failed workflow run's graph and its Retry, the tasks list and its filter, schedules' Pause and
 * Trigger now.
 * Every wait is on something the page shows, never a fixed sleep.
 *
 * BERTH_UI_SCREENSHOTS=docs/screenshots writes the main pages' screenshots there (committed);
 * without it they go to a temporary folder.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createClient, type BerthClient } from '../../src/client/index.ts';
import { startClientBerth, type ClientBerth } from '../helpers/client-berth.ts';
import { testEngines } from '../helpers/engines.ts';
import { launchChromium } from '../helpers/browser.ts';

const SHOTS = process.env['BERTH_UI_SCREENSHOTS'] ?? mkdtempSync(path.join(tmpdir(), 'berth-ui-'));
const TASK_HASH = /^#\/tasks\/[0-9a-f-]{36}$/;

let berth: ClientBerth;
let sdk: BerthClient;
let browser: Browser;

before(async () => {
  // One engine is enough: what is under test is the page, not the engine.
  berth = await startClientBerth(testEngines()[0]!);
  sdk = createClient({ baseUrl: berth.url, apiKey: berth.adminKey });
  mkdirSync(SHOTS, { recursive: true });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await berth?.close();
});

async function useKey(page: Page, key: string): Promise<void> {
  await page.locator('#key-input').fill(key);
  await page.locator('#key-save').click();
  await page.locator('#key-state', { hasText: `…${key.slice(-4)}` }).waitFor();
}

/** Goes to a route of the page and waits for its heading. */
async function open(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
  await page.locator('main h1', { hasText: heading }).waitFor();
}

/** Waits until the page is at a task's page other than `previous`'s; its id. (Locators only: the page's CSP refuses waitForFunction's eval.) */
async function nextTaskPage(page: Page, previous = ''): Promise<string> {
  const drawn = page.locator(`main[data-route^="#/tasks/"]:not([data-route="#/tasks/${previous}"])`);
  await drawn.waitFor();
  const id = (await drawn.getAttribute('data-route'))!.slice('#/tasks/'.length);
  assert.match(`#/tasks/${id}`, TASK_HASH);
  return id;
}

async function waitForStatus(page: Page, scope: string, status: string): Promise<void> {
  await page.locator(`${scope} [data-status="${status}"]`).waitFor({ timeout: 60_000 });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

test('the web page: keys, a runner\'s form, a live log, run again, cancel, a failed run\'s graph and retry, lists', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(`${berth.url}/ui`);
  await page.locator('#key-state', { hasText: 'no key' }).waitFor();

  // Without a key, and with an unknown one: the API's 401, naming the key the page sent.
  await page.locator('#notice', { hasText: '401 UNAUTHORIZED: this request needs an API key' }).waitFor();
  await useKey(page, 'not-a-key-1234');
  await page.locator('#notice', { hasText: /401 UNAUTHORIZED: the API key is not known[\s\S]*key …1234/ }).waitFor();

  // A reader may read, but its write is a 403 whose message names the key and the scope.
  await useKey(page, berth.readerKey);
  await open(page, '#/runners', 'Runners');
  await page.locator('#submit-echo').click();
  const refused = page.locator('#notice', { hasText: "403 FORBIDDEN: API key 'reader' lacks the scope tasks:write" });
  await refused.waitFor();
  assert.match(await refused.innerText(), new RegExp(`key …${berth.readerKey.slice(-4)}`));

  // Submitted from its form, chatty's log comes into the page line by line, then its output.
  await useKey(page, berth.adminKey);
  await page.locator('#runner-chatty').waitFor();
  await shot(page, 'runners');
  await page.locator('#input-chatty').fill('{"from": "ui"}');
  await page.locator('#submit-chatty').click();
  const chatty = await nextTaskPage(page);
  const log = page.locator('#task-log');
  await page.locator('#task-log', { hasText: 'line 1' }).waitFor({ timeout: 60_000 });
  // The lines are 0.4 s apart: the first is on the page well before the last is written.
  assert.doesNotMatch(await log.innerText(), /line 3/);
  await waitForStatus(page, '#task-status', 'succeeded');
  assert.equal((await log.innerText()).trim(), 'line 1\nline 2\nline 3');
  assert.deepEqual(JSON.parse(await page.locator('#task-output').innerText()), { from: 'ui' });
  assert.match(await page.locator('#task-attempts').innerText(), /^1\t/m);
  await shot(page, 'task');

  // Run again, with an edited input: a new task of the same runner.
  await page.locator('#rerun-input').fill('{"edited": true}');
  await page.locator('#rerun-edited').click();
  const edited = await nextTaskPage(page, chatty);
  await waitForStatus(page, '#task-status', 'succeeded');
  assert.deepEqual(JSON.parse(await page.locator('#task-output').innerText()), { edited: true });
  assert.equal((await sdk.tasks.get(edited)).runner, 'chatty');

  // A running sleeper, cancelled from its page.
  await open(page, '#/runners', 'Runners');
  await page.locator('#submit-sleeper').click();
  const sleeper = await nextTaskPage(page, edited);
  await waitForStatus(page, '#task-status', 'running');
  await page.locator('#task-cancel').click();
  await waitForStatus(page, '#task-status', 'cancelled');
  assert.equal(await page.locator('#task-cancel').count(), 0);
  assert.equal((await sdk.tasks.get(sleeper)).status, 'cancelled');

  // A failed run's graph; Retry runs its failed step again with a fresh task.
  const run = await sdk.workflows.run('broken', null, { timeout: 60 });
  assert.equal(run.status, 'failed');
  const firstTask = run.steps[0]!.taskIds[0]!;
  await open(page, `#/runs/${run.id}`, 'Workflow run');
  await page.locator('#run-graph g.node.failed[data-step="only"]').waitFor();
  assert.equal(await page.locator('#run-graph a[data-step-link="only"]').getAttribute('href'), `#/tasks/${firstTask}`);
  assert.match(await page.locator('#run-details .fields').innerText(), /step only: nonzero_exit/);
  await shot(page, 'run-failed');
  await page.locator('#run-retry').click();
  await page.locator(`#run-graph a[data-step-link="only"]:not([href="#/tasks/${firstTask}"])`).waitFor({ timeout: 60_000 });
  await waitForStatus(page, '#run-status', 'failed');
  const retried = await sdk.workflows.get(run.id);
  assert.notEqual(retried.steps[0]!.taskIds[0], firstTask);
  await page.locator('#run-graph a[data-step-link="only"]').click();
  assert.equal(await nextTaskPage(page), retried.steps[0]!.taskIds[0]);
  await waitForStatus(page, '#task-status', 'failed');
  await page.locator('#task-log', { hasText: 'boom' }).waitFor();

  // A run of two steps: an edge from the one to the other, both green; the runs list holds both runs.
  const pair = await sdk.workflows.run('pair', { n: 1 }, { timeout: 60 });
  await open(page, `#/runs/${pair.id}`, 'Workflow run');
  await page.locator('#run-graph g.node.succeeded[data-step="second"]').waitFor();
  assert.equal(await page.locator('#run-graph g.node.succeeded[data-step="first"]').count(), 1);
  assert.equal(await page.locator('#run-graph path.edge[data-from="first"][data-to="second"]').count(), 1);
  await shot(page, 'run');
  await open(page, '#/runs', 'Workflow runs');
  await page.locator(`#runs-list a[href="#/runs/${pair.id}"]`).waitFor();
  await page.locator(`#runs-list a[href="#/runs/${run.id}"]`).waitFor();
  // The status filter narrows the runs to the failed one.
  await page.locator('#filter-run-status').selectOption('failed');
  await page.locator('main[data-route="#/runs?status=failed"]').waitFor();
  await page.locator(`#runs-list a[href="#/runs/${run.id}"]`).waitFor();
  assert.equal(await page.locator(`#runs-list a[href="#/runs/${pair.id}"]`).count(), 0);

  // The tasks list, newest first, each row a link; the runner filter narrows it.
  await open(page, '#/tasks', 'Tasks');
  await page.locator(`#tasks-list a[href="#/tasks/${sleeper}"]`).waitFor();
  const links = await Promise.all((await page.locator('#tasks-list tbody tr td:first-child a').all()).map((a) => a.getAttribute('href')));
  assert.ok(links.indexOf(`#/tasks/${sleeper}`) < links.indexOf(`#/tasks/${chatty}`), `newest first: ${links.join(' ')}`);
  await shot(page, 'tasks');
  await page.locator('#filter-runner option[value="chatty"]').waitFor({ state: 'attached' });
  await page.locator('#filter-runner').selectOption('chatty');
  await page.locator('main[data-route="#/tasks?runner=chatty"]').waitFor();
  await page.locator(`#tasks-list a[href="#/tasks/${chatty}"]`).waitFor();
  assert.equal(await page.locator(`#tasks-list a[href="#/tasks/${sleeper}"]`).count(), 0);
  // Pages of 50: 51 tasks held back an hour (so no container runs) are 50, then Older → the last one.
  const held = await sdk.tasks.submitBatch(Array.from({ length: 51 }, (_, i) => ({ runner: 'validated', input: { name: `n${i}` }, delay: 3600 })));
  // Which one is oldest is the API's order (one batch shares its creation time): ask it.
  const first = await sdk.tasks.listPage({ runner: 'validated', limit: 50 });
  const [oldest] = (await sdk.tasks.listPage({ runner: 'validated', limit: 50, cursor: first.nextCursor! })).items;
  await open(page, '#/tasks?runner=validated', 'Tasks');
  await page.locator(`#tasks-list a[href="#/tasks/${first.items[0]!.id}"]`).waitFor();
  assert.equal(await page.locator('#tasks-list tbody tr').count(), 50);
  await page.locator('#tasks-older').click();
  await page.locator(`#tasks-list a[href="#/tasks/${oldest!.id}"]`).waitFor();
  assert.equal(await page.locator('#tasks-list tbody tr').count(), 1, 'the oldest on the second page');
  assert.equal(await page.locator('#tasks-older').count(), 0);
  await page.locator('#tasks-newest').click();
  await page.locator(`#tasks-list a[href="#/tasks/${first.items[0]!.id}"]`).waitFor();
  for (const task of held) await sdk.tasks.cancel(task.id);

  // Schedules: Pause, then Resume.
  await open(page, '#/schedules', 'Schedules');
  await page.locator('button[data-pause="yearly"]').click();
  await page.locator('button[data-resume="yearly"]').waitFor();
  assert.equal((await sdk.schedules.get('yearly')).paused, true);
  await page.locator('button[data-resume="yearly"]').click();
  await page.locator('button[data-pause="yearly"]').waitFor();
  assert.equal((await sdk.schedules.get('yearly')).paused, false);
  // Trigger now: one run outside the clock, and the page goes to the task it started.
  await page.locator('button[data-trigger="yearly"]').click();
  await page.locator('main[data-route^="#/tasks/"]').waitFor();
  await waitForStatus(page, '#task-status', 'succeeded');
  assert.deepEqual(JSON.parse(await page.locator('#task-output').innerText()), { from: 'yearly' });

  assert.deepEqual(pageErrors, []);
  await page.close();
});

test('the page and its modules: no key needed, a strict policy, .js and .ts alike, ETags, nothing outside the allow-list', async () => {
  const bare = await fetch(`${berth.url}/ui`, { redirect: 'manual' });
  assert.equal(bare.status, 301);
  assert.equal(bare.headers.get('location'), 'ui/', 'relative, so that a proxy\'s path prefix is kept');
  const pageAnswer = await fetch(`${berth.url}/ui/`);
  assert.equal(pageAnswer.status, 200);
  assert.match(pageAnswer.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(pageAnswer.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  const html = await pageAnswer.text();
  assert.match(html, /<script type="module" src="modules\/ui\/main\.ts">/);
  assert.match(html, /<link rel="stylesheet" href="page\.css">/);

  for (const module of ['ui/main.ts', 'ui/main.js', 'client/index.js', 'tasks/task-status.ts']) {
    const answer = await fetch(`${berth.url}/ui/modules/${module}`);
    assert.equal(answer.status, 200, module);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/javascript/, module);
    const code = await answer.text();
    assert.doesNotMatch(code, /^import type /m, `${module}: types stripped`);
    const etag = answer.headers.get('etag');
    assert.ok(etag !== null);
    assert.equal((await fetch(`${berth.url}/ui/modules/${module}`, { headers: { 'if-none-match': etag } })).status, 304, module);
  }
  for (const module of ['tasks/task-store.ts', 'config.ts', '..%2Fconfig.ts', 'ui/..%2F..%2Fpackage.json', 'ui/nothing.ts']) {
    const answer = await fetch(`${berth.url}/ui/modules/${module}`);
    assert.equal(answer.status, 404, module);
    assert.equal(((await answer.json()) as { code: string }).code, 'ROUTE_NOT_FOUND');
  }
});
