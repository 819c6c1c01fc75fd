/**
 * scripts/run.sh, the quickstart, as a user runs it: with DOCKER_HOST naming an engine (Podman's
 * socket here) it must use that engine and never install or start Docker. The machine's Docker is
 * hidden from the script (a `curl` wrapper fails every request to its socket, as on a machine
 * without Docker) and `dockerd` and `apt-get` are stubs that record being called; everything else,
 * the example image included, is real. Then the README's CLI line (scripts/berth submit … --wait)
 * runs a task against it.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { spawnBerthCommand, submit, waitForFinal } from '../helpers/berth-process.ts';
import { freePort } from '../helpers/private-postgres.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const PODMAN_HOST = 'unix:///run/podman/podman.sock';

test('run.sh with DOCKER_HOST set uses that engine and never starts dockerd', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-run-'));
  await chmod(dir, 0o755); // as root, so the embedded PostgreSQL's data stays in here
  t.after(() => rm(dir, { recursive: true, force: true }));
  const bin = path.join(dir, 'bin');
  const calls = path.join(dir, 'calls.log');
  const realCurl = execFileSync('sh', ['-c', 'command -v curl'], { encoding: 'utf8' }).trim();
  execFileSync('mkdir', [bin]);
  const stubs: Record<string, string> = {
    curl: `case "$*" in *docker.sock*) echo "curl $*" >> ${calls}; exit 7;; esac\nexec ${realCurl} "$@"`,
    dockerd: `echo "dockerd $*" >> ${calls}; exit 1`,
    'apt-get': `echo "apt-get $*" >> ${calls}; exit 1`,
  };
  for (const [name, body] of Object.entries(stubs)) {
    await writeFile(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  }
  await writeFile(calls, '');

  const pgPort = await freePort();
  const berth = spawnBerthCommand('bash', [path.join(REPO, 'scripts', 'run.sh')], {
    PATH: `${bin}:${process.env['PATH'] ?? ''}`,
    DOCKER_HOST: PODMAN_HOST,
    PORT: '0',
    BERTH_DATA_DIR: path.join(dir, 'data'),
    BERTH_EMBEDDED_PG_PORT: String(pgPort),
    BERTH_INSTANCE: `run-script-${pgPort}`,
  });
  t.after(async () => { await berth.stop('SIGTERM', 30_000); });
  let url: string;
  try {
    url = String((await berth.waitForLog('berth is listening', 180_000))['url']);
  } finally {
    assert.equal(await readFile(calls, 'utf8'), '', 'run.sh must not touch Docker when DOCKER_HOST is set');
  }
  const task = await submit(url, 'echo', { engine: 'podman' });
  const final = await waitForFinal(url, String(task['id']));
  assert.equal(final['status'], 'succeeded', JSON.stringify(final));
  assert.deepEqual(final['output'], { engine: 'podman' });

  // The README's CLI line, through the checkout's scripts/berth.
  // (Asynchronously: Berth's own output must keep being read meanwhile.)
  const cli = await promisify(execFile)(path.join(REPO, 'scripts', 'berth'), ['submit', 'echo', '--input', '{"a":1}', '--wait'], {
    env: { PATH: process.env['PATH'] ?? '', BERTH_URL: url }, encoding: 'utf8',
  });
  assert.deepEqual(cli, { stdout: '{"a":1}\n', stderr: '' }, 'exit 0, the output, nothing on stderr');
  assert.equal(await berth.stop('SIGTERM'), 0, berth.output());
});
