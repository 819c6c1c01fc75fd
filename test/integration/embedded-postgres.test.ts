/**
 * The embedded PostgreSQL as a new user meets it: a fresh clone in a home only its owner can enter
 * (as /root is), `berth start` with no DATABASE_URL, one task run, SIGTERM. As root (CI), PostgreSQL
 * runs as an unprivileged user that cannot enter that home, so Berth has to place the binaries and
 * the data where it can; as an ordinary user it runs them in place. And the cases where Berth cannot
 * make it work: one sentence on stderr, never a stack trace.
 *
 * The clone gets the checkout's node_modules hardlinked (copied when hardlinks fail), so the
 * binaries sit under the private path as they do for a new user, and the working tree's uncommitted
 * changes copied over, so the code under test is the code in this checkout.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, chown, copyFile, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test, type TestContext } from 'node:test';
import pg from 'pg';
import { spawnBerth, spawnBerthCommand, submit, waitForFinal, type BerthProcess } from '../helpers/berth-process.ts';
import { freePort, startPrivatePostgres } from '../helpers/private-postgres.ts';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(REPO, 'src', 'cli.ts');
const DOCKER_HOST = 'unix:///var/run/docker.sock';
const IS_ROOT = process.getuid?.() === 0;
const RUNNERS = 'runners:\n  echo:\n    image: berth-test/busybox:1\n    command: ["cat"]\n';

type Defer = (cleanup: () => unknown) => void;

/** Cleanups run last registered first (t.after runs its hooks in order), so a server stops before its folder goes. */
function deferrer(t: TestContext): Defer {
  const cleanups: (() => unknown)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return (cleanup) => { cleanups.push(cleanup); };
}

/** A fresh directory of mode 0700 in the home directory (/root in CI), removed after the test. */
async function privateHome(defer: Defer): Promise<string> {
  const dir = await mkdtemp(path.join(os.homedir(), 'berth-firstrun-'));
  await chmod(dir, 0o700);
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `git clone` of this checkout into `parent`/berth, with node_modules and the working tree's changes. */
async function cloneCheckout(parent: string): Promise<string> {
  const checkout = path.join(parent, 'berth');
  await run('git', ['clone', '--quiet', REPO, checkout]);
  await run('cp', ['-al', path.join(REPO, 'node_modules'), path.join(checkout, 'node_modules')])
    .catch(() => cp(path.join(REPO, 'node_modules'), path.join(checkout, 'node_modules'), { recursive: true, verbatimSymlinks: true }));
  const git = (args: string[]) => run('git', ['-C', REPO, ...args]).then(({ stdout }) => stdout.split('\0').filter((f) => f !== ''));
  for (const file of await git(['ls-files', '-z', '--modified', '--others', '--exclude-standard'])) {
    await mkdir(path.dirname(path.join(checkout, file)), { recursive: true });
    await cp(path.join(REPO, file), path.join(checkout, file)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted, handled below
    });
  }
  for (const file of await git(['ls-files', '-z', '--deleted'])) await rm(path.join(checkout, file), { force: true });
  return checkout;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The real uid a process runs as, from /proc. */
async function ownerOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
}

async function refusesConnections(port: number): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Starts Berth from `checkout`; returns it, its URL and the embedded server's pid and data dir. */
async function startBerth(
  defer: Defer, checkout: string, command: string, env: Record<string, string>, user?: { uid: number; gid: number; node: string },
) {
  const pgPort = await freePort();
  const berthEnv = { PORT: '0', BERTH_EMBEDDED_PG_PORT: String(pgPort), BERTH_INSTANCE: `firstrun-${pgPort}`, ...env };
  const args = [command, '--config', path.join(checkout, 'firstrun.yaml')];
  const cli = path.join(checkout, 'src', 'cli.ts');
  const berth = user === undefined
    ? spawnBerth(args, berthEnv, { cli, cwd: checkout })
    : spawnBerthCommand(user.node, [cli, ...args], berthEnv, { cwd: checkout, uid: user.uid, gid: user.gid });
  let pid: number | undefined;
  defer(async () => {
    // After a failure: Berth first, then its server, which would outlive a killed Berth.
    if (berth.child.exitCode === null && berth.child.signalCode === null) await berth.stop('SIGTERM', 30_000);
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGQUIT');
  });
  const started = await berth.waitForLog('embedded PostgreSQL started', 180_000);
  pid = Number(started['postgresPid']);
  assert.ok(Number.isInteger(pid) && pid > 0, `the start log names the server's pid: ${JSON.stringify(started)}`);
  const databaseDir = String(started['databaseDir']);
  // Data placed outside the clone (root, unreachable home) is this test's to remove too.
  if (!databaseDir.startsWith(checkout)) defer(() => rm(databaseDir, { recursive: true, force: true }));
  const url = String((await berth.waitForLog('berth is listening', 60_000))['url']);
  return { berth, url, pgPort, pid, databaseDir };
}

async function stopsCleanly(berth: BerthProcess, pid: number, pgPort: number): Promise<void> {
  assert.equal(await berth.stop('SIGTERM'), 0, `berth must exit 0 on SIGTERM; output:\n${berth.output()}`);
  assert.equal(isAlive(pid), false, `the embedded PostgreSQL (pid ${pid}) must be gone`);
  assert.ok(await refusesConnections(pgPort), `nothing may listen on ${pgPort} any more`);
}

test('a fresh clone in a 0700 home: start runs a task on the embedded PostgreSQL and exits 0 on SIGTERM', async (t) => {
  const defer = deferrer(t);
  const checkout = await cloneCheckout(await privateHome(defer));
  await writeFile(path.join(checkout, 'firstrun.yaml'), RUNNERS);
  const { berth, url, pid, pgPort, databaseDir } = await startBerth(defer, checkout, 'start', { DOCKER_HOST });
  assert.ok(isAlive(pid), `the embedded PostgreSQL's pid ${pid} must be alive`);
  if (IS_ROOT) {
    // The postgres user cannot enter the 0700 home, so the data went where it can.
    assert.match(databaseDir, /^\/var\/lib\/berth\/embedded-postgres\/data-[0-9a-f]{12}$/);
    assert.notEqual(await ownerOf(pid), 0, 'PostgreSQL must not run as root');
  } else {
    assert.equal(databaseDir, path.join(checkout, '.berth', 'postgres'));
  }

  // The superuser's password is random, readable by its owner only; a guessed one does not get in.
  const passwordFile = path.join(databaseDir, 'berth-password');
  assert.equal((await stat(passwordFile)).mode & 0o777, 0o600);
  const password = (await readFile(passwordFile, 'utf8')).trim();
  assert.ok(password.length >= 32, 'a long random password');
  const connect = async (secret: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', password: secret, database: 'postgres' });
    try { await client.connect(); } finally { await client.end().catch(() => undefined); }
  };
  for (const guess of ['berth', 'postgres', 'password', '']) await assert.rejects(connect(guess), /password authentication failed|password must be a string|SASL/, `password '${guess}'`);
  await connect(password);

  const task = await submit(url, 'echo', { hello: 'first run' });
  const final = await waitForFinal(url, String(task['id']));
  assert.equal(final['status'], 'succeeded', JSON.stringify(final));
  assert.deepEqual(final['output'], { hello: 'first run' });

  await stopsCleanly(berth, pid, pgPort);
  assert.doesNotMatch(berth.output(), /EACCES|\n\s+at /, 'no permission error or stack trace');
});

test('an ordinary user with a 0700 home: the embedded PostgreSQL runs as that user, data in ./.berth', {
  skip: IS_ROOT ? false : 'needs root to act as another user (the test above is the ordinary-user case then)',
}, async (t) => {
  // `nobody` has no docker socket access: serve only, and the database is what is under test.
  const nobody = { uid: Number((await run('id', ['-u', 'nobody'])).stdout), gid: Number((await run('id', ['-g', 'nobody'])).stdout) };
  const defer = deferrer(t);
  const home = await mkdtemp(path.join(os.tmpdir(), 'berth-nobody-'));
  defer(() => rm(home, { recursive: true, force: true }));
  const checkout = await cloneCheckout(home);
  await writeFile(path.join(checkout, 'firstrun.yaml'), RUNNERS);
  // The clone stays root's but readable; only the two folders on the way to ./.berth become the
  // user's (a recursive chown would reach the checkout's node_modules through the hardlinks).
  for (const dir of [home, checkout]) await chown(dir, nobody.uid, nobody.gid);
  await chmod(home, 0o700);
  // The test's own Node may sit where the user cannot reach (a 0700 home, as in CI's clone): the
  // user gets a copy of its own, as a user who installed Node themselves would have.
  const node = path.join(home, 'node');
  await copyFile(process.execPath, node);
  await chmod(node, 0o755);
  await chown(node, nobody.uid, nobody.gid);

  const { berth, url, pid, pgPort, databaseDir } = await startBerth(defer, checkout, 'serve', { BERTH_READYZ_ENGINE: 'false' }, { ...nobody, node });
  assert.equal(databaseDir, path.join(checkout, '.berth', 'postgres'));
  const task = await submit(url, 'echo', { stored: true });
  const again = await (await fetch(`${url}/tasks/${String(task['id'])}`)).json() as Record<string, unknown>;
  assert.equal(again['status'], 'queued');
  await stopsCleanly(berth, pid, pgPort);
});

test('serve and worker started together on one data folder share one embedded PostgreSQL', async (t) => {
  const defer = deferrer(t);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-data-'));
  await chmod(dataDir, 0o755); // as root, so the cluster lands inside it
  defer(() => rm(dataDir, { recursive: true, force: true }));
  const runners = path.join(dataDir, 'firstrun.yaml');
  await writeFile(runners, RUNNERS);
  const pgPort = await freePort();
  const env = {
    BERTH_DATA_DIR: dataDir, BERTH_EMBEDDED_PG_PORT: String(pgPort), BERTH_INSTANCE: `firstrun-${pgPort}`, DOCKER_HOST, PORT: '0',
  };
  const serve = spawnBerth(['serve', '--config', runners], env);
  const worker = spawnBerth(['worker', '--config', runners], env);
  let pid: number | undefined;
  defer(async () => {
    for (const berth of [serve, worker]) await berth.stop('SIGTERM', 30_000);
    if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGQUIT');
  });
  const url = String((await serve.waitForLog('berth is listening', 120_000))['url']);
  await worker.waitForLog('worker started', 120_000);
  const owner = serve.output().includes('"embedded PostgreSQL started"') ? serve : worker;
  const other = owner === serve ? worker : serve;
  pid = Number((await owner.waitForLog('embedded PostgreSQL started'))['postgresPid']);
  await other.waitForLog('using the embedded PostgreSQL already running');

  const final = await waitForFinal(url, String((await submit(url, 'echo', { together: true }))['id']));
  assert.equal(final['status'], 'succeeded', JSON.stringify(final));
  assert.equal(await other.stop('SIGTERM'), 0, other.output());
  assert.ok(isAlive(pid), 'the server stays up while its owner runs');
  await stopsCleanly(owner, pid, pgPort);
});

async function berthFails(args: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  try {
    await run(process.execPath, [CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn', ...env } });
    return { code: 0, stderr: '' };
  } catch (error) {
    const e = error as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr };
  }
}

function assertOneSentence(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(stderr, /\n\s+at |Error:/, 'no stack trace');
}

test('a PostgreSQL that is not Berth\'s own on the embedded port is refused in one sentence, not used', async (t) => {
  // It trusts every connection and has a `berth` database, so a check that merely connects would
  // take it for Berth's own and migrate into it.
  const foreign = await startPrivatePostgres();
  t.after(() => foreign.destroy());
  const query = async (database: string, sql: string) => {
    const client = new pg.Client({ connectionString: foreign.databaseUrl(database) });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await query('postgres', 'create database berth');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'berth-data-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  const result = await berthFails(['migrate'], { BERTH_DATA_DIR: dataDir, BERTH_EMBEDDED_PG_PORT: String(foreign.port) });
  assert.equal(result.code, 1);
  assertOneSentence(result.stderr, new RegExp(`port ${foreign.port}.*BERTH_EMBEDDED_PG_PORT`));
  const { rowCount } = await query('berth', "select 1 from information_schema.schemata where schema_name = 'berth'");
  assert.equal(rowCount, 0, 'nothing may be migrated into a foreign server');
});

test('a data folder that cannot be created is one sentence naming it, not a stack trace', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-data-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'file'), '');
  const dataDir = path.join(dir, 'file', 'data');
  const result = await berthFails(['migrate'], { BERTH_DATA_DIR: dataDir, BERTH_EMBEDDED_PG_PORT: String(await freePort()) });
  assert.equal(result.code, 1);
  assertOneSentence(result.stderr, new RegExp(`${dataDir}.*BERTH_DATA_DIR`));
});
