/**
 * Swagger UI in a real browser (Debian's Chromium driven by playwright-core) against an API that
 * needs keys: a request tried without authorizing answers 401; after the Authorize button takes a
 * key, the same request answers 200.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { startApiStack, TEST_KEYS, type ApiStack } from '../helpers/stack.ts';
import { launchChromium } from '../helpers/browser.ts';

const AUTH_RUNNERS = fileURLToPath(new URL('../fixtures/auth-runners.yaml', import.meta.url));

let stack: ApiStack;
let browser: Browser;
let url: string;

before(async () => {
  stack = await startApiStack({ runnersFile: AUTH_RUNNERS, listenHost: '0.0.0.0' });
  url = await stack.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await stack?.close();
});

test('Swagger UI: Try it out answers 401 without a key, 200 once Authorize has one', async () => {
  const page = await browser.newPage();
  await page.goto(`${url}/docs`);
  const operation = page.locator('#operations-runners-get_runners');
  await operation.locator('.opblock-summary').click();
  await operation.locator('button.try-out__btn').click();
  const status = operation.locator('.live-responses-table tr.response .response-col_status');

  await operation.locator('button.execute').click();
  assert.equal((await status.innerText()).trim().slice(0, 3), '401');

  await page.locator('.auth-wrapper button.authorize').click();
  await page.locator('.auth-container input').first().fill(TEST_KEYS.reader);
  await page.locator('.auth-btn-wrapper button.authorize').click();
  await page.locator('.auth-btn-wrapper button.btn-done').click();

  await operation.locator('button.execute').click();
  // A string, evaluated in the page: the project's types have no DOM.
  await page.waitForFunction(
    `document.querySelector('#operations-runners-get_runners .live-responses-table tr.response .response-col_status')?.textContent?.trim().startsWith('200') === true`,
    undefined, { timeout: 10_000 },
  );
  assert.match(await operation.locator('.responses-inner').innerText(), /"name": "echo"/);
});
