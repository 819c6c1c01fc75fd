/**
 * The client commands (`berth submit`, `berth tasks`, …) as a user runs them against a real Berth
 * on each engine under test: through pipes, where output is plain lines and JSON, and in a
 * pseudo-terminal (util-linux `script`), where a spinner shows while waiting and lists are tables.
 * Each exit code the README promises is produced for real.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createClient, type BerthClient } from '../../src/client/index.ts';
import { startClientBerth, type ClientBerth } from '../helpers/client-berth.ts';
import { testEngines } from '../helpers/engines.ts';
import { freePort } from '../helpers/private-postgres.ts';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

interface Result { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** The CLI with pipes for stdout and stderr, and `stdin` (if given) piped in; else stdin is /dev/null. */
function berth(args: readonly string[], env: Record<string, string>, stdin?: string): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  return collect(child);
}

/** The CLI in a pseudo-terminal: stdout and stderr both go to the terminal, read back as one stream. */
function berthInTerminal(args: readonly string[], env: Record<string, string>): Promise<Result> {
  const command = [process.execPath, CLI, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { PATH: process.env['PATH'] ?? '', TERM: 'xterm', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

function collect(child: ReturnType<typeof spawn>): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const engine of testEngines()) {
  describe(`the berth client commands against Berth on ${engine.name}`, () => {
    let server: ClientBerth;
    let env: Record<string, string>;
    let sdk: BerthClient;

    before(async () => {
      server = await startClientBerth(engine);
      env = { BERTH_URL: server.url, BERTH_API_KEY: server.adminKey };
      sdk = createClient({ baseUrl: server.url, apiKey: server.adminKey });
    });
    after(() => server?.close());

    test('submit --wait prints the output and exits 0; without --wait, the bare id', async () => {
      const waited = await berth(['submit', 'echo', '--input', '{"a":1}', '--wait'], env);
      assert.deepEqual(waited, { code: 0, stdout: '{"a":1}\n', stderr: '' });
      const queued = await berth(['submit', 'echo', '--input', '[1]'], env);
      assert.equal(queued.code, 0, queued.stderr);
      const id = queued.stdout.trim();
      assert.match(id, UUID);
      assert.deepEqual((await sdk.tasks.wait(id, { timeout: 60 })).output, [1]);
    });

    test('the input from stdin, from a file, or none', async () => {
      const piped = await berth(['submit', 'echo', '--wait'], env, '{"from":"stdin"}\n');
      assert.deepEqual(piped, { code: 0, stdout: '{"from":"stdin"}\n', stderr: '' });
      const dir = await mkdtemp(path.join(tmpdir(), 'berth-cli-'));
      try {
        await writeFile(path.join(dir, 'in.json'), '{"from":"file"}');
        const filed = await berth(['submit', 'echo', '--wait', '--input', `@${path.join(dir, 'in.json')}`], env);
        assert.deepEqual(filed, { code: 0, stdout: '{"from":"file"}\n', stderr: '' });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      assert.deepEqual(await berth(['submit', 'echo', '--wait'], env), { code: 0, stdout: 'null\n', stderr: '' });
    });

    test('with --wait, the exit code says how it ended: 1 failed, 3 still running at --timeout, 2 cancelled', async () => {
      const failed = await berth(['submit', 'fail', '--wait'], env);
      assert.equal(failed.code, 1);
      assert.equal(failed.stdout, '');
      assert.match(failed.stderr, /^berth: task [0-9a-f-]{36} failed: nonzero_exit: exited with code 3: boom\n$/);

      const late = await berth(['submit', 'sleeper', '--wait', '--timeout', '1s'], env);
      assert.equal(late.code, 3, late.stderr);
      assert.match(late.stderr, /^berth: task ([0-9a-f-]{36}) is still (queued|running) after 1\.0s; it goes on \(berth status \1\)\n$/);
      await sdk.tasks.cancel(/task ([0-9a-f-]{36})/.exec(late.stderr)![1]!);

      // Cancelled while the command waits: the same key and body name the same task, whoever sent it first.
      const key = `cli-${randomBytes(6).toString('hex')}`;
      const waiting = berth(['submit', 'sleeper', '--wait', '--idempotency-key', key], env);
      const task = await sdk.tasks.submit('sleeper', null, { idempotencyKey: key });
      await sdk.tasks.cancel(task.id);
      const cancelled = await waiting;
      assert.equal(cancelled.code, 2, cancelled.stderr);
      assert.equal(cancelled.stderr, `berth: task ${task.id} was cancelled\n`);
    });

    test('--json prints the API\'s JSON: the final task, a page, the runners', async () => {
      const done = await berth(['submit', 'echo', '--input', '"j"', '--wait', '--json'], env);
      assert.equal(done.code, 0, done.stderr);
      const task = JSON.parse(done.stdout);
      assert.equal(task.status, 'succeeded');
      assert.equal(task.output, 'j');
      assert.deepEqual(JSON.parse((await berth(['status', task.id, '--json'], env)).stdout), await sdk.tasks.get(task.id));
      const page = JSON.parse((await berth(['tasks', '--runner', 'echo', '--limit', '2', '--json'], env)).stdout);
      assert.equal(page.items.length, 2);
      assert.ok('nextCursor' in page);
      assert.deepEqual(JSON.parse((await berth(['runners', '--json'], env)).stdout), await sdk.runners.list());
    });

    test('lists through a pipe: a tab-separated line per item, no header', async () => {
      const tasks = await berth(['tasks', '--runner', 'echo', '--limit', '3'], env);
      assert.equal(tasks.code, 0, tasks.stderr);
      const lines = tasks.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 3);
      for (const line of lines) {
        const [id, runner, status, attempts] = line.split('\t');
        assert.match(id!, UUID);
        assert.equal(runner, 'echo');
        assert.match(status!, /^(queued|running|succeeded)$/);
        assert.match(attempts!, /^\d+$/);
      }
      const runners = (await berth(['runners'], env)).stdout.trimEnd().split('\n').map((line) => line.split('\t')[0]);
      assert.deepEqual(runners.sort(), ['chatty', 'echo', 'fail', 'nap', 'sleeper', 'validated']);
      const schedules = (await berth(['schedules'], env)).stdout;
      assert.match(schedules, /^yearly\t0 0 1 1 \*\tUTC\trunner echo\tactive\t\d{4}-01-01T00:00:00\.000Z\t/);
    });

    test('status, logs and cancel by id; status names a missing id', async () => {
      const id = (await berth(['submit', 'chatty', '--input', '1'], env)).stdout.trim();
      const followed = await berth(['logs', id, '-f'], env);
      assert.deepEqual(followed, { code: 0, stdout: 'line 1\nline 2\nline 3\n', stderr: '' });
      const status = await berth(['status', id], env);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`^task +${id}\nrunner +chatty\nstatus +succeeded\nattempts +1 of 1\n`));
      assert.match(status.stdout, /\noutput +1\n$/);
      const again = await berth(['cancel', id], env);
      assert.equal(again.code, 65);
      assert.match(again.stderr, /\(TASK_FINISHED\)\n$/);
      const missing = await berth(['status', '00000000-0000-4000-8000-000000000000'], env);
      assert.deepEqual(missing, { code: 65, stdout: '', stderr: "berth: no task or workflow run has the id '00000000-0000-4000-8000-000000000000'\n" });
    });

    test('workflows: run --follow shows each step\'s changes; a failed run exits 1; retry; runs lists them', async () => {
      const run = await berth(['run', 'pair', '--input', '{"v":1}', '--follow'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { second: { got: { input: { v: 1 }, parents: {} } } });
      assert.match(run.stderr, /step first: (queued|running|succeeded)\n/);
      assert.match(run.stderr, /step second: succeeded\n$/);
      const broken = await berth(['run', 'broken', '--wait'], env);
      assert.equal(broken.code, 1);
      const runId = /workflow run ([0-9a-f-]{36}) failed at step only: nonzero_exit/.exec(broken.stderr)?.[1];
      assert.ok(runId !== undefined, broken.stderr);
      const retried = await berth(['retry', runId, '--wait'], env);
      assert.equal(retried.code, 1, retried.stderr);
      const status = await berth(['status', runId], env);
      assert.match(status.stdout, new RegExp(`^run +${runId}\nworkflow +broken\nstatus +failed\n`));
      assert.match(status.stdout, /\nonly\tfail\tfailed\t[0-9a-f-]{36}\n$/);
      const steps = await berth(['tasks', '--workflow', runId], env);
      assert.equal(steps.code, 0, steps.stderr);
      const stepTasks = steps.stdout.trimEnd().split('\n');
      assert.equal(stepTasks.length, 2, 'the step\'s task and its retry');
      for (const line of stepTasks) assert.match(line, /^[0-9a-f-]{36}\tfail\tfailed\t/);
      const runs = await berth(['runs', '--workflow', 'broken'], env);
      assert.ok(runs.stdout.split('\n').some((line) => line.startsWith(`${runId}\tbroken\tfailed\t`)), runs.stdout);
    });

    test('usage and connection problems: one sentence and an exit code of 64 and up, nothing queued', async () => {
      const before = (await sdk.tasks.listPage({ limit: 500 })).items.length;
      const expectations: [readonly string[], Record<string, string>, number, RegExp][] = [
        [['submit'], env, 64, /^berth: submit: missing RUNNER \(berth submit --help lists the options\)\n$/],
        [['submit', 'echo', '--frob'], env, 64, /unknown option '--frob'/],
        [['submit', 'echo', '--input', '{nope'], env, 64, /^berth: --input is not valid JSON/],
        [['submit', 'echo', '--input', '@/nonexistent/in.json'], env, 66, /^berth: --input @\/nonexistent\/in\.json: cannot read it \(ENOENT\)\n$/],
        [['submit', 'no-such-runner'], env, 65, /^berth: unknown runner 'no-such-runner' \(UNKNOWN_RUNNER\)\n  \/runner: no runner named/],
        [['submit', 'validated', '--input', '{}'], env, 65, /must have required property 'name' \(INPUT_INVALID\)\n$/],
        [['tasks', '--status', 'bogus'], env, 65, /querystring\/status: must be one of queued, running, succeeded, failed, cancelled/],
        [['tasks'], { BERTH_URL: server.url }, 77, /^berth: .* \(set BERTH_API_KEY to a key of this Berth\)\n$/],
        [['submit', 'echo'], { BERTH_URL: server.url, BERTH_API_KEY: server.readerKey }, 77, /\(FORBIDDEN\)\n$/],
        [['tasks'], { BERTH_URL: 'ftp://x' }, 64, /^berth: BERTH_URL must be an http:\/\/ or https:\/\/ URL \(got 'ftp:\/\/x'\)\n$/],
      ];
      for (const [args, environment, code, stderr] of expectations) {
        const result = await berth(args, environment);
        assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, stderr, args.join(' '));
        assert.equal(result.stdout, '', args.join(' '));
      }
      assert.equal((await sdk.tasks.listPage({ limit: 500 })).items.length, before, 'no refused command queued a task');

      const port = await freePort();
      const offline = await berth(['tasks'], { BERTH_URL: `http://127.0.0.1:${port}` });
      assert.deepEqual(offline, {
        code: 69, stdout: '', stderr: `berth: cannot reach Berth at http://127.0.0.1:${port} (ECONNREFUSED); is it running, and is BERTH_URL right?\n`,
      });
    });

    test('in a terminal: a spinner with the status and elapsed time while waiting, then a clean line', async () => {
      const result = await berthInTerminal(['submit', 'sleeper', '--wait', '--timeout', '3s'], env);
      assert.equal(result.code, 3, result.stdout);
      assert.match(result.stdout, /\r\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] task [0-9a-f]{8} \(sleeper\) running \d+\.\ds/);
      assert.match(result.stdout, /\r\x1b\[2Kberth: task ([0-9a-f-]{36}) is still running after 3\.0s/, 'the spinner\'s line is cleared before the message');
      await sdk.tasks.cancel(/task ([0-9a-f-]{36}) is still/.exec(result.stdout)![1]!);

      const done = await berthInTerminal(['submit', 'echo', '--input', '{"b":2}', '--wait'], env);
      assert.equal(done.code, 0, done.stdout);
      assert.ok(done.stdout.endsWith('\r\x1b[2K{\r\n  "b": 2\r\n}\r\n'), JSON.stringify(done.stdout));
    });

    test('in a terminal: lists are tables with a header, statuses in colour unless NO_COLOR', async () => {
      const table = await berthInTerminal(['tasks', '--runner', 'echo', '--limit', '2'], env);
      assert.equal(table.code, 0, table.stdout);
      const [header, first] = table.stdout.split('\r\n');
      assert.match(header!, /^ID {36}RUNNER  STATUS +ATTEMPTS  CREATED +TOOK$/);
      assert.match(first!, /^[0-9a-f-]{36}  echo    \x1b\[32msucceeded\x1b\[0m  1 +/);
      assert.match(table.stdout, /more: berth tasks --runner echo --limit 2 --cursor \S+\r\n$/);
      const plain = await berthInTerminal(['tasks', '--runner', 'echo', '--limit', '1'], { ...env, NO_COLOR: '1' });
      assert.match(plain.stdout.split('\r\n')[1]!, /^[0-9a-f-]{36}  echo    succeeded  1 +/);
    });
  });
}
