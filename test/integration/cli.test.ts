/**
 * The `berth` command as a user meets it: config check, and start-up refusing a bad file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { FIXTURE_RUNNERS } from '../helpers/stack.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const INVALID = fileURLToPath(new URL('../fixtures/invalid-berth.yaml', import.meta.url));

async function berth(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test('config check accepts a valid file', async () => {
  const result = await berth(['config', 'check', '--config', FIXTURE_RUNNERS]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /ok, \d+ runner\(s\): .*echo/);
});

test('config check lists every problem of an invalid file and exits non-zero', async () => {
  const result = await berth(['config', 'check', '--config', INVALID]);
  assert.equal(result.code, 1);
  // Every problem on its own line, prefixed by the file (the exact set is in load-runners.test.ts).
  const problems = result.stderr.split('\n').filter((line) => line.startsWith(`${INVALID}: `));
  assert.equal(problems.length, 12, result.stderr);
  assert.ok(problems.includes(`${INVALID}: runners.jira-processor.timeout: must be a positive duration`));
  assert.ok(problems.includes(`${INVALID}: runners.echo.imagee: unknown key`));
});

test('BERTH_CONFIG is used when --config is absent; a missing file is a clear error', async () => {
  assert.equal((await berth(['config', 'check'], { BERTH_CONFIG: FIXTURE_RUNNERS })).code, 0);
  const missing = await berth(['config', 'check'], { BERTH_CONFIG: '/nonexistent/berth.yaml' });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /\/nonexistent\/berth\.yaml/);
});

test('serve refuses to start with an invalid runners file, before touching the database', async () => {
  const result = await berth(['serve', '--config', INVALID], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /must be a positive duration/);
});

test('invalid environment is reported whole', async () => {
  const result = await berth(['serve'], { PORT: 'x', BERTH_WORKER_CONCURRENCY: '-1' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /PORT/);
  assert.match(result.stderr, /BERTH_WORKER_CONCURRENCY/);
});

test('unknown command → usage, exit 2', async () => {
  const result = await berth(['frobnicate']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /usage: berth/);
});
