/**
 * The client commands' pure parts: the command line, the input sources, the exit codes and
 * sentences of failures, and the text shown on a terminal and through a pipe.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BerthError } from '../../src/client/index.ts';
import { DEFAULT_LIMIT, parseClientArgs, type ClientCommand, type ClientInvocation } from '../../src/client-cli/client-args.ts';
import { ClientCliError, describeFailure, EXIT, exitForStatus } from '../../src/client-cli/exit-codes.ts';
import { readInput, type InputSources } from '../../src/client-cli/input-source.ts';
import { formatSeconds, formatTable, formatValue, startSpinner, type Terminal } from '../../src/client-cli/terminal.ts';

function invocation(command: ClientCommand, args: string[]): ClientInvocation {
  const line = parseClientArgs(command, args);
  assert.equal(line.kind, 'invoke', JSON.stringify(line));
  return (line as { invocation: ClientInvocation }).invocation;
}

function problem(command: ClientCommand, args: string[]): string {
  const line = parseClientArgs(command, args);
  assert.equal(line.kind, 'usage-error', JSON.stringify(line));
  return (line as { problem: string }).problem;
}

test('submit reads its runner and options; durations in seconds, bare numbers too', () => {
  const parsed = invocation('submit', ['echo', '--input', '{"a":1}', '--wait', '--timeout', '1m30s', '--delay', '45', '--priority', '-5', '--idempotency-key', 'k1']);
  assert.equal(parsed.target, 'echo');
  assert.equal(parsed.input, '{"a":1}');
  assert.equal(parsed.wait, true);
  assert.equal(parsed.timeout, 90);
  assert.equal(parsed.delay, 45);
  assert.equal(parsed.priority, -5);
  assert.equal(parsed.idempotencyKey, 'k1');
  assert.equal(parsed.json, false);
  assert.equal(invocation('submit', ['echo']).wait, false);
});

test('--follow waits as well, except for logs, where it only follows', () => {
  assert.equal(invocation('submit', ['echo', '-f']).wait, true);
  assert.equal(invocation('run', ['pair', '--follow']).wait, true);
  const logs = invocation('logs', ['id-1', '-f']);
  assert.equal(logs.follow, true);
  assert.equal(logs.wait, false);
});

test('lists take their filters, a limit (default 20, at most 500) and a cursor', () => {
  const tasks = invocation('tasks', ['--runner', 'echo', '--status', 'failed', '--limit', '5', '--cursor', 'c1']);
  assert.deepEqual(tasks.filter, { runner: 'echo', status: 'failed' });
  assert.equal(tasks.limit, 5);
  assert.equal(tasks.cursor, 'c1');
  assert.equal(invocation('runs', []).limit, DEFAULT_LIMIT);
  assert.match(problem('tasks', ['--limit', '501']), /^tasks: --limit must be a whole number from 1 to 500/);
  assert.match(problem('tasks', ['--limit', '2.5']), /--limit must be a whole number/);
});

test('usage errors name the option or argument, before anything is sent', () => {
  assert.equal(problem('submit', []), 'submit: missing RUNNER');
  assert.equal(problem('status', ['a', 'b']), "status: unexpected argument 'b'");
  assert.equal(problem('tasks', ['--frob']), "tasks: unknown option '--frob'");
  assert.equal(problem('submit', ['echo', '--input']), "submit: option '--input <value>' argument missing");
  assert.equal(problem('runs', ['--runner', 'x']), "runs: option --runner does not apply to 'runs'");
  assert.equal(problem('runners', ['--wait']), "runners: option --wait does not apply to 'runners'");
  assert.match(problem('submit', ['echo', '--wait', '--timeout', 'soon']), /--timeout must be a duration like 30s/);
  assert.equal(problem('submit', ['echo', '--timeout', '5s']), 'submit: --timeout needs --wait');
  assert.match(problem('submit', ['echo', '--priority', '1001']), /--priority must be a whole number from -1000 to 1000/);
  assert.match(problem('submit', ['echo', '--start-after', 'tomorrow']), /--start-after must be an ISO 8601 time/);
  // Every problem at once.
  assert.match(problem('submit', ['echo', '--priority', 'x', '--delay', 'y']), /--priority .*; --delay /);
  assert.equal(parseClientArgs('tasks', ['--help']).kind, 'help');
});

function sources(options: { stdin?: string; piped?: boolean; files?: Record<string, string> }): InputSources {
  return {
    readStdin: async () => options.stdin ?? '',
    stdinHasData: () => options.piped ?? false,
    readFile: async (path) => {
      const contents = options.files?.[path];
      if (contents === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return contents;
    },
  };
}

test('the input: --input JSON, @file, - for stdin, stdin when piped, else null', async () => {
  assert.deepEqual(await readInput('{"a":1}', sources({})), { a: 1 });
  assert.deepEqual(await readInput('@in.json', sources({ files: { 'in.json': '[1,2]' } })), [1, 2]);
  assert.deepEqual(await readInput('-', sources({ stdin: '"s"' })), 's');
  assert.deepEqual(await readInput(undefined, sources({ stdin: '{"p":true}\n', piped: true })), { p: true });
  assert.equal(await readInput(undefined, sources({ stdin: '{"ignored":1}', piped: false })), null);
  assert.equal(await readInput(undefined, sources({ stdin: '  \n', piped: true })), null, 'an empty pipe is no input');
  const badJson = await readInput('{', sources({})).catch((error: unknown) => error);
  assert.ok(badJson instanceof ClientCliError);
  assert.equal(badJson.exitCode, EXIT.usage);
  assert.match(badJson.message, /^--input is not valid JSON/);
  const missing = await readInput('@gone.json', sources({})).catch((error: unknown) => error);
  assert.ok(missing instanceof ClientCliError);
  assert.equal(missing.exitCode, EXIT.noInput);
  assert.equal(missing.message, '--input @gone.json: cannot read it (ENOENT)');
});

test('exit codes: how a waited-for task ended, then sysexits for failures', () => {
  assert.deepEqual(['succeeded', 'failed', 'cancelled'].map(exitForStatus), [0, 1, 2]);
  const failure = (statusCode: number, code: string, message = 'm', details?: { path: string; message: string }[]) =>
    describeFailure(new BerthError({ statusCode, code, message, details }), 'http://b:3000');
  assert.equal(failure(400, 'INPUT_INVALID').exitCode, EXIT.refused);
  assert.equal(failure(404, 'TASK_NOT_FOUND').exitCode, EXIT.refused);
  assert.equal(failure(409, 'TASK_FINISHED').exitCode, EXIT.refused);
  assert.equal(failure(401, 'UNAUTHORIZED').exitCode, EXIT.noPermission);
  assert.equal(failure(403, 'FORBIDDEN').exitCode, EXIT.noPermission);
  assert.equal(failure(503, 'NOT_READY').exitCode, EXIT.unavailable);
  assert.equal(failure(429, 'RATE_LIMITED').exitCode, EXIT.unavailable);
  assert.equal(failure(500, 'INTERNAL').exitCode, EXIT.software);
  assert.equal(failure(502, 'INVALID_RESPONSE').exitCode, EXIT.unavailable, 'a proxy before a Berth that is down');
  assert.equal(failure(504, 'INVALID_RESPONSE').exitCode, EXIT.unavailable);
  const socket = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:3000'), { code: 'ECONNREFUSED' }) });
  const network = describeFailure(new BerthError({ statusCode: 0, code: 'NETWORK_ERROR', message: 'GET http://b:3000/tasks?status=EFAIL: …' }, { cause: socket }), 'http://b:3000');
  assert.deepEqual(network, { exitCode: EXIT.unavailable, lines: ['cannot reach Berth at http://b:3000 (ECONNREFUSED); is it running, and is BERTH_URL right?'] });
  // Details the message already holds are not said twice.
  assert.deepEqual(failure(400, 'INPUT_INVALID', 'bad input: /input: must be object', [
    { path: '/input', message: 'must be object' }, { path: '/input/x', message: 'is required' },
  ]).lines, ['bad input: /input: must be object (INPUT_INVALID)', '  /input/x: is required']);
  const defect = describeFailure(new TypeError('oops'), 'http://b:3000');
  assert.equal(defect.exitCode, EXIT.software);
  assert.match(defect.lines[0]!, /^unexpected error: TypeError: oops/);
});

function recorder(tty: boolean): Terminal & { outText: () => string; errText: () => string } {
  let out = '';
  let err = '';
  return {
    out: (text) => { out += text; }, err: (text) => { err += text; },
    outIsTTY: tty, errIsTTY: tty, color: false, outText: () => out, errText: () => err,
  };
}

test('tables: aligned with a header on a terminal, tab-separated rows through a pipe', () => {
  const rows = [['a', 'succeeded', '1'], ['longer-id', '\x1b[31mfailed\x1b[0m', '12']];
  assert.equal(formatTable(recorder(false), ['ID', 'STATUS', 'N'], rows), 'a\tsucceeded\t1\nlonger-id\t\x1b[31mfailed\x1b[0m\t12\n');
  assert.equal(formatTable(recorder(true), ['ID', 'STATUS', 'N'], rows), [
    'ID         STATUS     N',
    'a          succeeded  1',
    'longer-id  \x1b[31mfailed\x1b[0m     12',
    '',
  ].join('\n'));
});

test('values: pretty JSON on a terminal, one line through a pipe, text as it is', () => {
  assert.equal(formatValue(recorder(false), { a: [1] }), '{"a":[1]}\n');
  assert.equal(formatValue(recorder(true), { a: 1 }), '{\n  "a": 1\n}\n');
  assert.equal(formatValue(recorder(false), 'hello\n'), 'hello\n');
  assert.deepEqual(['0.4s', '59.9s', '1m05s', '2h10m'], [0.4, 59.94, 65, 7800].map(formatSeconds));
});

test('the spinner draws the label and the elapsed time on a terminal, and clears its line; nothing through a pipe', () => {
  let now = 1_000;
  const tty = recorder(true);
  const spinner = startSpinner(tty, 'task 1 queued', () => now);
  now += 2_500;
  spinner.update('task 1 running');
  spinner.stop();
  assert.match(tty.errText(), /^\r\x1b\[2K⠋ task 1 queued 0\.0s/);
  assert.ok(tty.errText().endsWith('\r\x1b[2K'), 'the line is cleared');
  const piped = recorder(false);
  startSpinner(piped, 'task 1 queued').stop();
  assert.equal(piped.errText(), '');
});
