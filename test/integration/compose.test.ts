/**
 * The image and compose.yaml, proven on a machine that can reach no image registry: the Node base
 * image is made from this machine's Node (scripts/node-base-image.ts), the Dockerfile builds on
 * it, and compose (Debian's docker-compose) brings the stack up, runs a task through the API and
 * the worker, reports every long-running service healthy, and takes it all down again.
 *
 * Only loopback traffic is allowed here, so test/fixtures/compose.host.yaml puts every service on
 * the host's network with ports of its own and stands the machine's PostgreSQL in for the postgres
 * service. docker-compose 1.29 cannot drop a published port in an override (v2's `!reset` can), and
 * refuses one with host networking: the merged configuration has the API's `ports` taken out.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import { ensureNodeBaseImage } from '../../scripts/node-base-image.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/private-postgres.ts';
import { testEngines } from '../helpers/engines.ts';
import { until } from '../helpers/wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const DOCKER = testEngines().find((engine) => engine.name === 'docker') ?? { name: 'docker', dockerHost: 'unix:///var/run/docker.sock' };
const IMAGE = 'berth:compose-test';

let database: TestDatabase;
let dir: string;
let composeFile: string;
let env: Record<string, string>;
let apiUrl: string;
const project = `berth-test-${randomBytes(4).toString('hex')}`;
const adminKey = `berth_${randomBytes(24).toString('base64url')}`;

function compose(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('docker-compose', ['-p', project, '-f', composeFile, ...args], { env, cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
}

before(async () => {
  await ensureNodeBaseImage(DOCKER.dockerHost);
  await ensureBusyboxImage(DOCKER.dockerHost, 'berth/busybox:1');
  // The npm registry is reached from the build stage through the host's network.
  await run('docker', ['build', '-q', '--network', 'host', '--build-arg', 'BASE=berth/node:24', '-t', IMAGE, '.'], {
    cwd: ROOT, env: { ...process.env, DOCKER_HOST: DOCKER.dockerHost }, maxBuffer: 16 * 1024 * 1024,
  });
  database = await createTestDatabase();
  dir = await mkdtemp(path.join(tmpdir(), 'berth-compose-'));
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  env = {
    PATH: process.env['PATH'] ?? '', DOCKER_HOST: DOCKER.dockerHost,
    BERTH_IMAGE: IMAGE, BERTH_ADMIN_KEY: adminKey, BERTH_PORT: String(port),
    BERTH_TEST_COMPOSE_DATABASE_URL: database.url, BERTH_TEST_METRICS_PORT: String(await freePort()),
    BERTH_ENGINE_SOCKET: new URL(DOCKER.dockerHost).pathname,
  };
  const merged = parse((await run('docker-compose', ['-p', project, '-f', 'compose.yaml', '-f', 'test/fixtures/compose.host.yaml', 'config'], { env, cwd: ROOT })).stdout);
  for (const service of Object.values(merged.services as Record<string, Record<string, unknown>>)) {
    assert.equal(service['network_mode'], 'host', 'every service runs on the host network here');
    delete service['ports'];
  }
  composeFile = path.join(dir, 'compose.yaml');
  await writeFile(composeFile, stringify(merged));
});

after(async () => {
  if (composeFile !== undefined) await compose('down', '-v', '--timeout', '60');
  await rm(dir, { recursive: true, force: true });
  await database?.drop();
});

test('compose up migrates once, serves the API and the web page and runs a task in the worker; every service turns healthy; down leaves nothing', async () => {
  await compose('up', '-d');
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  await until('the API answers', async () => fetch(`${apiUrl}/readyz`).then((answer) => (answer.status === 200 ? true : undefined), () => undefined), 60_000, 500);

  const response = await fetch(`${apiUrl}/tasks`, {
    method: 'POST', headers: { ...headers, prefer: 'wait=60' }, body: JSON.stringify({ runner: 'wordcount', input: 'runs in compose' }),
  });
  const task = await response.json() as Record<string, unknown>;
  assert.equal(response.status, 200, JSON.stringify(task));
  assert.equal(task['status'], 'succeeded', JSON.stringify(task));
  assert.equal(task['output'], 3);
  // The web page from the image's compiled dist/ (no type stripping there).
  const page = await fetch(`${apiUrl}/ui`);
  assert.equal(page.status, 200);
  const main = /src="([^"]+\.js)"/.exec(await page.text())?.[1];
  assert.ok(main !== undefined, 'the page loads a compiled .js module');
  const module = await fetch(new URL(main, page.url));
  assert.equal(module.status, 200);
  assert.match(module.headers.get('content-type') ?? '', /^text\/javascript/);
  const anonymous = await fetch(`${apiUrl}/tasks`);
  assert.equal(anonymous.status, 401, 'the runners file compose mounts has a key, which every request needs');

  const { stdout: ps } = await compose('ps', '-q');
  const ids = ps.trim().split('\n');
  assert.equal(ids.length, 4, ps);
  const state = async (): Promise<Record<string, string>> => {
    const { stdout } = await run('docker', ['inspect', '--format', '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.State.ExitCode}}', ...ids], { env });
    return Object.fromEntries(stdout.trim().split('\n').map((line) => {
      const [service, ...rest] = line.split(' ');
      return [service!, rest.join(' ')];
    }));
  };
  const healthy = await until('api and worker healthy', async () => {
    const states = await state();
    return states['api']?.startsWith('running healthy') && states['worker']?.startsWith('running healthy') ? states : undefined;
  }, 90_000, 500);
  assert.equal(healthy['migrate'], 'exited  0', 'migrate runs once and exits 0');

  await compose('down', '-v', '--timeout', '60');
  const { stdout: left } = await run('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { env });
  assert.equal(left.trim(), '', 'down removes every container of the project');
});

test('built with EMBEDDED_POSTGRES=1, the image starts its own PostgreSQL as its non-root user, in the volume /var/lib/berth', async () => {
  const image = 'berth:embedded-test';
  await run('docker', ['build', '-q', '--network', 'host', '--build-arg', 'BASE=berth/node:24', '--build-arg', 'EMBEDDED_POSTGRES=1', '-t', image, '.'], {
    cwd: ROOT, env: { ...process.env, DOCKER_HOST: DOCKER.dockerHost }, maxBuffer: 16 * 1024 * 1024,
  });
  // migrate: starts the embedded database, applies every migration, stops it, exits 0.
  const { stdout, stderr } = await run('docker', [
    'run', '--rm', '--network', 'none', '-e', `BERTH_EMBEDDED_PG_PORT=${await freePort()}`, image, 'migrate',
  ], { env: { ...process.env, DOCKER_HOST: DOCKER.dockerHost } });
  const lines = `${stdout}${stderr}`.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.ok(lines.some((line) => line['msg'] === 'database migrated'), `${stdout}${stderr}`);
  assert.ok(lines.some((line) => String(line['clusterDir'] ?? '').startsWith('/var/lib/berth/')), 'the data is kept in the volume');
});
