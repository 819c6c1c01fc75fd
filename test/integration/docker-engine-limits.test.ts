/**
 * The Docker adapter's limits and failure paths against each real engine: timeout, stdout overflow
 * and abort kill the container; engine failures become EngineError with the right reason. Every
 * test checks that no container with its label is left behind.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import { EngineError, type ContainerSpec } from '../../src/engine/container-engine.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import {
  runLeavingNothing,
  TEST_CASE_LABEL,
  TEST_FILE_LABEL,
  TEST_IMAGE,
  testEngines,
  testSpec,
} from '../helpers/engines.ts';

const FILE_ID = randomUUID();

/** Generous against a loaded CI machine, far below the 30 s the programs would otherwise run. */
const QUICK_MS = 10_000;

function isEngineError(reason: EngineError['reason'], pattern?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

for (const { name, dockerHost } of testEngines()) {
  describe(`docker-engine limits on ${name}`, () => {
    const engine = createDockerEngine({ dockerHost });
    const run = (overrides: Partial<ContainerSpec>) => runLeavingNothing(engine, testSpec(FILE_ID, overrides));

    before(async () => {
      await engine.ping();
      await ensureBusyboxImage(dockerHost, TEST_IMAGE);
    });

    after(async () => {
      await engine.removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    });

    test('the timeout kills a program that runs too long', async () => {
      const outcome = await run({ command: ['sleep', '30'], timeoutMs: 1000 });
      assert.equal(outcome.timedOut, true);
      assert.equal(outcome.exitCode, 137);
      assert.equal(outcome.aborted, false);
      assert.ok(outcome.durationMs >= 1000 && outcome.durationMs < QUICK_MS, `took ${outcome.durationMs} ms`);
    });

    test('the timeout also bounds a program that closed its output but keeps running', async () => {
      const outcome = await run({ command: ['sh', '-c', 'exec >&- 2>&-; sleep 30'], timeoutMs: 1000 });
      assert.equal(outcome.timedOut, true);
      assert.ok(outcome.durationMs < QUICK_MS, `took ${outcome.durationMs} ms`);
    });

    test('a program finishing within the timeout is not marked timed out', async () => {
      const outcome = await run({ command: ['sh', '-c', 'sleep 0.2; echo ok'], timeoutMs: 5000 });
      assert.equal(outcome.timedOut, false);
      assert.equal(outcome.stdout.toString(), 'ok\n');
    });

    test('too much stdout kills the container and keeps exactly the limit', async () => {
      const outcome = await run({ command: ['sh', '-c', 'yes | head -c 500000000'], stdoutLimitBytes: 10_000 });
      assert.equal(outcome.stdoutOverflow, true);
      assert.equal(outcome.stdout.length, 10_000);
      assert.match(outcome.stdout.toString(), /^(y\n)+$/);
      assert.equal(outcome.exitCode, 137);
      assert.equal(outcome.timedOut, false);
      assert.ok(outcome.durationMs < QUICK_MS, `took ${outcome.durationMs} ms`);
    });

    test('stdout of exactly the limit is not an overflow', async () => {
      const outcome = await run({ command: ['head', '-c', '5000', '/dev/zero'], stdoutLimitBytes: 5000 });
      assert.equal(outcome.stdoutOverflow, false);
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.length, 5000);
    });

    test('aborting the signal kills the container', async () => {
      const controller = new AbortController();
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo started >&2; sleep 30'] });
      const outcome = await runLeavingNothing(engine, spec, {
        signal: controller.signal,
        onStderr: () => controller.abort(),
      });
      assert.equal(outcome.aborted, true);
      assert.equal(outcome.timedOut, false);
      assert.equal(outcome.exitCode, 137);
      assert.ok(outcome.durationMs < QUICK_MS, `took ${outcome.durationMs} ms`);
    });

    test('an abort right after run() is called never starts the program', async () => {
      const controller = new AbortController();
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo ran'] });
      const running = runLeavingNothing(engine, spec, { signal: controller.signal });
      controller.abort();
      const outcome = await running;
      assert.equal(outcome.aborted, true);
      assert.equal(outcome.exitCode, null);
      assert.equal(outcome.stdout.length, 0);
    });

    test('a signal aborted before run() creates nothing', async () => {
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo ran'] });
      const aborted = await runLeavingNothing(engine, spec, { signal: AbortSignal.abort() });
      assert.equal(aborted.aborted, true);
      assert.equal(aborted.exitCode, null);
      assert.equal(aborted.stdout.length, 0);
    });

    test('a missing image is image_not_found, naming the image', async () => {
      const image = `berth-test/does-not-exist:${randomUUID()}`;
      await assert.rejects(run({ image }), isEngineError('image_not_found', new RegExp(image)));
    });

    test('without init, an unrunnable command fails as create_failed and leaves nothing', async () => {
      await assert.rejects(run({ command: ['/no/such/program'], init: false }), isEngineError('create_failed'));
    });

    test('with init (the default), an unrunnable command is the init\'s failed exit, saying why', async () => {
      // The container starts (its PID 1 is the init); the init's exec fails. docker-init (tini)
      // exits 127, Podman's catatonit 1.
      const outcome = await run({ command: ['/no/such/program'] });
      assert.notEqual(outcome.exitCode, 0);
      assert.match(outcome.stderr.toString(), /exec.*No such file or directory/);
    });

    test('removeContainers removes every container with the labels, even under run()', async () => {
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo up >&2; sleep 30'] });
      const caseLabel = { [TEST_CASE_LABEL]: spec.labels[TEST_CASE_LABEL] ?? '' };
      let removed: Promise<number> | undefined;
      const result = await engine
        .run(spec, { onStderr: () => (removed ??= engine.removeContainers(caseLabel)) })
        .catch((error: unknown) => error);
      assert.equal(await removed, 1);
      assert.deepEqual(await engine.listContainers(caseLabel), []);
      // The container vanishing under run() must end run(): Docker still reports the kill (137),
      // Podman no longer knows the container when its exit status is read.
      if (result instanceof Error) assert.ok(isEngineError('engine_failure')(result));
      else assert.equal((result as { exitCode: unknown }).exitCode, 137);
    });
  });
}

describe('docker-engine with no engine listening', () => {
  for (const dockerHost of ['unix:///tmp/berth-test-no-such.sock', 'tcp://127.0.0.1:1']) {
    test(`run() and ping() at ${dockerHost} fail as unreachable`, async () => {
      const engine = createDockerEngine({ dockerHost });
      await assert.rejects(engine.ping(), isEngineError('unreachable'));
      await assert.rejects(engine.run(testSpec(FILE_ID)), isEngineError('unreachable'));
      await assert.rejects(engine.listContainers({ a: 'b' }), isEngineError('unreachable'));
    });
  }
});

describe('ensureBusyboxImage', () => {
  test('refuses a dynamically linked busybox', async () => {
    const engine = testEngines()[0];
    assert.ok(engine !== undefined);
    await assert.rejects(
      ensureBusyboxImage(engine.dockerHost, `berth-test/never-built:${randomUUID()}`, { busyboxPath: '/bin/ls' }),
      /\/bin\/ls is dynamically linked; a static busybox binary is required/,
    );
  });
});
