/**
 * The SDK in a real browser (Debian's Chromium driven by playwright-core) against a real Berth:
 * the page imports src/client/ as ES modules (types stripped by Node, nothing bundled) and runs,
 * submits, waits, follows a log and lists with the browser's own fetch. A small same-origin server
 * serves the modules and passes /api/* through to Berth, streaming, as a reverse proxy would (Berth
 * sends no CORS headers).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startClientBerth, type ClientBerth } from '../helpers/client-berth.ts';
import { testEngines } from '../helpers/engines.ts';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CHROMIUM = process.env['BERTH_TEST_CHROMIUM'] ?? '/usr/bin/chromium';

let berth: ClientBerth;
let site: http.Server;
let siteUrl: string;
let browser: Browser;

/** /src/… as JavaScript, /api/… passed to Berth, / an empty page. */
function startSite(berthUrl: string): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const url = request.url ?? '/';
    if (url.startsWith('/api/')) {
      const upstream = http.request(new URL(url.slice('/api'.length), berthUrl), { method: request.method, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      upstream.on('error', (error) => response.destroy(error));
      request.pipe(upstream);
      return;
    }
    if (url.startsWith('/src/')) {
      const file = path.join(SRC, path.normalize(url.slice('/src/'.length)));
      readFile(file, 'utf8').then(
        (code) => { response.writeHead(200, { 'content-type': 'text/javascript' }).end(stripTypeScriptTypes(code)); },
        () => { response.writeHead(404).end(); },
      );
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>sdk</title>');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  // One engine is enough: what is under test is the SDK in the browser, not the engine.
  berth = await startClientBerth(testEngines()[0]!);
  site = await startSite(berth.url);
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await berth?.close();
});

test('in a browser, the SDK runs, waits, follows a log, lists and reports errors by code', async () => {
  const page = await browser.newPage();
  await page.goto(siteUrl);
  // A string, evaluated in the page: the project's types have no DOM.
  const result = await page.evaluate(`(async () => {
    const { createClient, isBerthError } = await import('/src/client/index.ts');
    const berth = createClient({ baseUrl: location.origin + '/api', apiKey: ${JSON.stringify(berth.adminKey)} });
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
