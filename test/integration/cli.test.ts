/**
 * The `berth` command as a user meets it: config check, and start-up refusing a bad file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

test('config check lists the schedules; a seconds field passes only with BERTH_TEST_CRON_SECONDS=1', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'berth.yaml');
  await writeFile(file, `runners: { echo: { image: busybox } }
schedules:
  nightly-scan: { cron: "30 2 * * *", timezone: Europe/Berlin, runner: echo }
  fast: { cron: "*/2 * * * * *", runner: echo }
`);
  const refused = await berth(['config', 'check', '--config', file]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /schedules\.fast\.cron: expected five fields/);
  const result = await berth(['config', 'check', '--config', file], { BERTH_TEST_CRON_SECONDS: '1' });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${file}: ok, 1 runner(s): echo; 2 schedule(s): nightly-scan, fast\n`);
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

test('serve and start refuse, in one sentence and before the database, to listen beyond loopback with no auth: section', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'berth.yaml');
  await writeFile(file, 'runners: { echo: { image: busybox } }\n');
  for (const command of ['serve', 'start']) {
    const result = await berth([command, '--config', file], { HOST: '0.0.0.0', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stderr, 'berth: Berth would listen on 0.0.0.0 without API keys: add an auth: section with keys to the runners file ' +
      '(see the README\'s Security section; berth key new makes a key), write auth: none to serve without keys on purpose, or set HOST=127.0.0.1\n');
  }
});

test('key new prints a fresh key and the sha256 line that config check accepts for it', async (t) => {
  const first = await berth(['key', 'new']);
  const second = await berth(['key', 'new']);
  assert.equal(first.code, 0, first.stderr);
  const [key, line] = first.stdout.trimEnd().split('\n');
  assert.match(key!, /^berth_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(second.stdout.split('\n')[0], key);
  const digest = /^sha256: "([0-9a-f]{64})"$/.exec(line!)?.[1];
  assert.equal(digest, createHash('sha256').update(key!).digest('hex'));
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'berth.yaml');
  await writeFile(file, `runners: { echo: { image: busybox } }\nauth:\n  keys:\n    - name: ci\n      ${line}\n      scopes: [admin]\n`);
  const check = await berth(['config', 'check', '--config', file]);
  assert.equal(check.stdout, `${file}: ok, 1 runner(s): echo; 1 API key(s): ci\n`, check.stderr);
});

test('invalid environment is reported whole', async () => {
  const result = await berth(['serve'], { PORT: 'x', BERTH_WORKER_CONCURRENCY: '-1' });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /PORT/);
  assert.match(result.stderr, /BERTH_WORKER_CONCURRENCY/);
});

test('unknown command → usage, exit 64', async () => {
  const result = await berth(['frobnicate']);
  assert.equal(result.code, 64);
  assert.match(result.stderr, /^berth: unknown command 'frobnicate'\nusage: berth/);
  const none = await berth([]);
  assert.equal(none.code, 64);
  assert.match(none.stderr, /usage: berth/);
});

test('an unknown option, or an option without its value, is a usage error naming it (exit 64), before anything starts', async () => {
  // A database that cannot be reached: starting would fail differently (exit 1).
  const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
  const unknown = await berth(['serve', '--frobnicate'], env);
  assert.equal(unknown.code, 64, unknown.stderr);
  assert.match(unknown.stderr, /^berth: unknown option '--frobnicate'\nusage: berth/);
  const missing = await berth(['serve', '--config'], env);
  assert.equal(missing.code, 64, missing.stderr);
  assert.match(missing.stderr, /^berth: option '--config <value>' argument missing\nusage: berth/);
  const short = await berth(['-x', 'migrate'], env);
  assert.equal(short.code, 64, short.stderr);
  assert.match(short.stderr, /unknown option '-x'/);
});

test('--config=<file> and --config <file> both name the runners file, before or after the command', async () => {
  for (const args of [['config', 'check', `--config=${FIXTURE_RUNNERS}`], ['--config', FIXTURE_RUNNERS, 'config', 'check']]) {
    const result = await berth(args);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^${FIXTURE_RUNNERS}: ok`));
  }
});

test('--version prints the package version, --help the usage; both exit 0', async () => {
  const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  const version = await berth(['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.equal(version.stdout, `${manifest.version}\n`);
  for (const flag of ['--help', '-h']) {
    const help = await berth([flag]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^usage: berth/);
    for (const command of ['serve', 'worker', 'start', 'migrate', 'config check', '--config <file>', '--version']) {
      assert.ok(help.stdout.includes(command), `help mentions ${command}`);
    }
  }
});

test('healthcheck: the worker\'s /healthz when BERTH_METRICS_PORT is set, else the API\'s on PORT; 0 on a 200, else 1 naming the address', async (t) => {
  const { createServer } = await import('node:http');
  const { freePort } = await import('../helpers/private-postgres.ts');
  const [api, metrics] = [await freePort(), await freePort()];
  const down = await berth(['healthcheck'], { PORT: String(api) });
  assert.equal(down.code, 1);
  assert.match(down.stderr, new RegExp(`^berth: unhealthy: http://127\\.0\\.0\\.1:${api}/healthz: .*ECONNREFUSED`));
  const server = createServer((request, response) => response.writeHead(request.url === '/healthz' ? 200 : 404).end());
  await new Promise<void>((resolve) => server.listen(api, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  assert.deepEqual(await berth(['healthcheck'], { PORT: String(api), HOST: '0.0.0.0' }), { code: 0, stdout: '', stderr: '' });
  // A worker's container: its own port only, even though something answers on PORT.
  const worker = await berth(['healthcheck'], { PORT: String(api), BERTH_METRICS_PORT: String(metrics) });
  assert.equal(worker.code, 1);
  assert.match(worker.stderr, new RegExp(`^berth: unhealthy: http://127\\.0\\.0\\.1:${metrics}/healthz: `));
});
