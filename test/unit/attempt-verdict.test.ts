import assert from 'node:assert/strict';
import { test } from 'node:test';
import { engineErrorResult, judgeOutcome, type JudgedRunner } from '../../src/worker/attempt-verdict.ts';
import { EngineError, type ContainerOutcome } from '../../src/engine/container-engine.ts';

const runner: JudgedRunner = {
  output: 'json', timeoutMs: 2500, limits: { outputBytes: 100, memoryBytes: 64 * 2 ** 20 },
};

function outcome(overrides: Partial<ContainerOutcome>): ContainerOutcome {
  return {
    exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), stderrTruncated: false, timedOut: false,
    stdoutOverflow: false, oomKilled: false, aborted: false, durationMs: 5, ...overrides,
  };
}

function result(o: Partial<ContainerOutcome>, r = runner) {
  const verdict = judgeOutcome(outcome(o), r);
  assert.equal(verdict.kind, 'finished');
  return verdict.kind === 'finished' ? verdict.result : assert.fail();
}

test('json stdout is kept as written, surrounding whitespace dropped', () => {
  assert.deepEqual(result({ stdout: Buffer.from('  {"n": 12345678901234567890}\n') }), {
    status: 'succeeded', outputJson: '{"n": 12345678901234567890}', errorCode: null, errorMessage: null, exitCode: 0,
  });
});

test('empty or blank stdout is null', () => {
  assert.equal(result({ stdout: Buffer.from(' \n\t') }).outputJson, 'null');
  assert.equal(result({}).outputJson, 'null');
});

test('stdout that is not JSON fails with invalid_output and its start', () => {
  const r = result({ stdout: Buffer.from(`hello ${'x'.repeat(500)}`) });
  assert.equal(r.status, 'failed');
  assert.equal(r.errorCode, 'invalid_output');
  assert.match(r.errorMessage!, /starts with: hello x+…$/);
  assert.ok(r.errorMessage!.length < 400);
});

test('text mode returns the raw string', () => {
  assert.equal(result({ stdout: Buffer.from('a "b"\n') }, { ...runner, output: 'text' }).outputJson, JSON.stringify('a "b"\n'));
});

test('non-zero exit carries the code and the tail of stderr', () => {
  const r = result({ exitCode: 7, stderr: Buffer.from(`${'y'.repeat(1000)}END\n`) });
  assert.equal(r.errorCode, 'nonzero_exit');
  assert.equal(r.exitCode, 7);
  assert.match(r.errorMessage!, /^exited with code 7: …y+END$/);
});

test('an OOM kill fails with oom, naming the memory limit', () => {
  const r = result({ exitCode: 137, oomKilled: true, stderr: Buffer.from('allocating\n') });
  assert.equal(r.errorCode, 'oom');
  assert.equal(r.exitCode, 137);
  assert.equal(r.errorMessage, 'killed for exceeding the memory limit of 64 MiB (exit code 137): allocating');
});

test('a program that failed because a child was OOM-killed fails with oom too', () => {
  assert.equal(result({ exitCode: 1, oomKilled: true }).errorCode, 'oom');
});

test('a clean exit despite an OOM kill in the container (a child it could do without) succeeds', () => {
  assert.equal(result({ exitCode: 0, oomKilled: true, stdout: Buffer.from('1') }).status, 'succeeded');
});

test('a timeout or overflow is reported as such even when memory ran out as well', () => {
  assert.equal(result({ exitCode: 137, oomKilled: true, timedOut: true }).errorCode, 'timeout');
  assert.equal(result({ exitCode: 137, oomKilled: true, stdoutOverflow: true }).errorCode, 'output_too_large');
});

test('timeout wins over the exit code the kill produced', () => {
  const r = result({ exitCode: 137, timedOut: true });
  assert.equal(r.errorCode, 'timeout');
  assert.match(r.errorMessage!, /2\.5s/);
});

test('overflow fails with output_too_large naming the limit', () => {
  const r = result({ exitCode: 137, stdoutOverflow: true });
  assert.equal(r.errorCode, 'output_too_large');
  assert.match(r.errorMessage!, /100 bytes/);
});

test('an aborted attempt is stopped, not failed', () => {
  assert.deepEqual(judgeOutcome(outcome({ aborted: true, exitCode: 137 }), runner), { kind: 'stopped' });
});

test('no exit code at all is an engine error', () => {
  assert.equal(result({ exitCode: null }).errorCode, 'engine_error');
});

test('engine errors become engine_error with the reason', () => {
  assert.deepEqual(engineErrorResult(new EngineError('image_not_found', 'image x:1 not found')), {
    status: 'failed', outputJson: null, errorCode: 'engine_error', errorMessage: 'image_not_found: image x:1 not found', exitCode: null,
  });
});

test('json stdout nested past 256 levels is invalid_output (every read of the task would fail to serialise it); 256 is fine', () => {
  const nested = (depth: number) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
  const deep = result({ stdout: nested(10_000) }, { ...runner, limits: { ...runner.limits, outputBytes: 1e6 } });
  assert.equal(deep.errorCode, 'invalid_output');
  assert.match(deep.errorMessage!, /deeper than 256 levels/);
  assert.equal(result({ stdout: nested(256) }, { ...runner, limits: { ...runner.limits, outputBytes: 1e6 } }).status, 'succeeded');
});
