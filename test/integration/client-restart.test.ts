/**
 * A client waiting through a restart of Berth: `berth submit --wait` (the CLI on the SDK's wait)
 * is answered early by the API going down, then finds nothing listening, then a new Berth on the
 * same database; it must go on waiting and print the task's output, not give up with exit 69.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createClient } from '../../src/client/index.ts';
import { startClientBerth, type ClientBerth } from '../helpers/client-berth.ts';
import { testEngines } from '../helpers/engines.ts';
import { until } from '../helpers/wait.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

let berth: ClientBerth;
// The client's logic is under test, not the engine's: one engine is enough.
before(async () => { berth = await startClientBerth(testEngines()[0]!); });
after(() => berth?.close());

test('berth submit --wait outlasts a restart of Berth and prints the output', async () => {
  const child = spawn(process.execPath, [CLI, 'submit', 'nap', '--input', '{"through":"a restart"}', '--wait'], {
    env: { PATH: process.env['PATH'] ?? '', BERTH_URL: berth.url, BERTH_API_KEY: berth.adminKey }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));

  // Restart once the task runs, so the client is waiting on it: the worker lets it finish while
  // the API is already gone.
  const sdk = createClient({ baseUrl: berth.url, apiKey: berth.adminKey });
  await until('the nap task running', async () => {
    const [task] = (await sdk.tasks.listPage({ runner: 'nap', limit: 1 })).items;
    return task?.status === 'running' ? task : undefined;
  });
  await berth.restart();

  assert.equal(await exited, 0, stderr);
  assert.equal(stdout, '{"through":"a restart"}\n');
  assert.equal(stderr, '');
});
