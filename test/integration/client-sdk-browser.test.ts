/**
 * The SDK in a real browser (Debian's Chromium driven by playwright-core) against a real Berth:
 * a page on Berth's origin imports src/client/ as ES modules, as Berth serves them to its web page
 * (GET /ui/modules/…, types stripped, nothing bundled), and runs, submits, waits, follows a log
 * and lists with the browser's own fetch. Same origin, since Berth sends no CORS headers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser.ts';
import { startClientBerth, type ClientBerth } from '../helpers/client-berth.ts';
import { testEngines } from '../helpers/engines.ts';

let berth: ClientBerth;
let browser: Browser;

before(async () => {
  // One engine is enough: what is under test is the SDK in the browser, not the engine.
  berth = await startClientBerth(testEngines()[0]!);
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await berth?.close();
});

test('in a browser, the SDK runs, waits, follows a log, lists and reports errors by code', async () => {
  const page = await browser.newPage();
  // Any page of Berth's without the web page's script policy (which refuses evaluated code).
  await page.goto(`${berth.url}/healthz`);
  // A string, evaluated in the page: the project's types have no DOM.
  const result = await page.evaluate(`(async () => {
    const { createClient, isBerthError } = await import('/ui/modules/client/index.ts');
    const berth = createClient({ baseUrl: location.origin, apiKey: ${JSON.stringify(berth.adminKey)} });
    const ran = await berth.tasks.run('echo', { from: 'browser' }, { timeout: 60 });
    const queued = await berth.tasks.submit('chatty', 'x');
    const chunks = [];
    for await (const chunk of berth.tasks.logs(queued.id, { follow: true })) chunks.push(chunk);
    const waited = await berth.tasks.wait(queued.id, { timeout: 60 });
    const listed = [];
    for await (const item of berth.tasks.list({ runner: 'echo', limit: 1 })) listed.push(item.id);
    const refused = await berth.tasks.submit('validated', {}).catch((error) => ({ isBerthError: isBerthError(error), code: error.code, status: error.statusCode }));
    const run = await berth.workflows.run('pair', 1, { timeout: 60 });
    return { ran: [ran.status, ran.output], log: chunks.join(''), waited: [waited.status, waited.output], listed: listed.includes(ran.id), refused, run: run.status };
  })()`);
  assert.deepEqual(result, {
    ran: ['succeeded', { from: 'browser' }],
    log: 'line 1\nline 2\nline 3\n',
    waited: ['succeeded', 'x'],
    listed: true,
    refused: { isBerthError: true, code: 'INPUT_INVALID', status: 400 },
    run: 'succeeded',
  });
});
