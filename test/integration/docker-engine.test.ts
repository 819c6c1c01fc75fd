/**
 * The Docker adapter against each real engine (Docker and Podman's compat API): what the program
 * receives and what comes back. Limits, kills and engine failures are in docker-engine-limits.test.ts.
 * Every test checks that no container with its label is left behind.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import type { ContainerSpec } from '../../src/engine/container-engine.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { runLeavingNothing, TEST_FILE_LABEL, TEST_IMAGE, testEngines, testSpec } from '../helpers/engines.ts';

const FILE_ID = randomUUID();

for (const { name, dockerHost } of testEngines()) {
  describe(`docker-engine on ${name}`, () => {
    const engine = createDockerEngine({ dockerHost });
    const run = (overrides: Partial<ContainerSpec>) => runLeavingNothing(engine, testSpec(FILE_ID, overrides));

    before(async () => {
      await engine.ping();
      await ensureBusyboxImage(dockerHost, TEST_IMAGE);
    });

    after(async () => {
      await engine.removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    });

    test('cat echoes a small unicode payload byte for byte', async () => {
      const input = Buffer.from('héllo wörld ✓ 日本語 🚢\nsecond line without newline');
      const outcome = await run({ command: ['cat'], stdin: input });
      assert.equal(outcome.exitCode, 0);
      assert.ok(outcome.stdout.equals(input), `stdout was ${JSON.stringify(outcome.stdout.toString())}`);
      assert.equal(outcome.stderr.length, 0);
      assert.equal(outcome.timedOut || outcome.stdoutOverflow || outcome.aborted || outcome.oomKilled, false);
    });

    test('cat echoes a binary payload over 64 KiB byte for byte', async () => {
      const input = randomBytes(300 * 1024 + 17);
      const outcome = await run({ command: ['cat'], stdin: input });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.length, input.length);
      assert.ok(outcome.stdout.equals(input), 'stdout differs from stdin');
    });

    test('the program sees EOF right after the input', async () => {
      const outcome = await run({ command: ['wc', '-c'], stdin: Buffer.from('12345') });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.toString().trim(), '5');
    });

    test('empty stdin is an immediate EOF', async () => {
      const outcome = await run({ command: ['cat'] });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.length, 0);
    });

    test('a program that never reads stdin still completes', async () => {
      const outcome = await run({ command: ['echo', 'ignored the input'], stdin: randomBytes(1024 * 1024) });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.toString(), 'ignored the input\n');
      assert.equal(outcome.stderr.toString(), '');
    });

    // On Podman the connection that carried stdin gets a "broken pipe" error frame in its stderr
    // when the program exits without reading it all (why stdin has its own connection there).
    test('a program that exits without reading 1 MiB of stdin leaves no noise in stderr', async () => {
      for (const command of [['true'], ['head', '-c', '10']]) {
        const outcome = await run({ command, stdin: Buffer.alloc(1024 * 1024, 'x') });
        assert.equal(outcome.exitCode, 0);
        assert.equal(outcome.stderr.toString(), '', `stderr of ${command.join(' ')}`);
        assert.equal(outcome.stdout.toString(), command[0] === 'head' ? 'x'.repeat(10) : '');
      }
    });

    test('cat echoes 1 MiB of binary stdin byte for byte', async () => {
      const input = randomBytes(1024 * 1024);
      const outcome = await run({ command: ['cat'], stdin: input });
      assert.equal(outcome.exitCode, 0);
      assert.ok(outcome.stdout.equals(input), 'stdout differs from stdin');
      assert.equal(outcome.stderr.length, 0);
    });

    test('a non-zero exit code and stderr are reported', async () => {
      const outcome = await run({ command: ['sh', '-c', 'echo oops >&2; exit 3'] });
      assert.equal(outcome.exitCode, 3);
      assert.equal(outcome.stderr.toString(), 'oops\n');
      assert.equal(outcome.stderrTruncated, false);
      assert.equal(outcome.stdout.length, 0);
    });

    test('exit codes of containers that exit at once are read correctly', async () => {
      for (const code of [0, 1, 42, 0, 255]) {
        const outcome = await run({ command: ['sh', '-c', `exit ${code}`], stdin: Buffer.from('x') });
        assert.equal(outcome.exitCode, code);
      }
    });

    test('stderr keeps only its tail, and every chunk reaches onStderr', async () => {
      const chunks: Buffer[] = [];
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'seq 1 20000 >&2; echo done'], stderrLimitBytes: 100 });
      const outcome = await runLeavingNothing(engine, spec, { onStderr: (chunk) => chunks.push(chunk) });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.toString(), 'done\n');
      assert.equal(outcome.stderrTruncated, true);
      assert.equal(outcome.stderr.length, 100);
      assert.ok(outcome.stderr.toString().endsWith('19999\n20000\n'));
      const expected = Array.from({ length: 20000 }, (_, i) => `${i + 1}\n`).join('');
      assert.equal(Buffer.concat(chunks).toString(), expected);
    });

    test('environment variables are visible to the program', async () => {
      const outcome = await run({
        command: ['sh', '-c', 'printf "%s|%s|%s" "$GREETING" "$QUOTED" "${EMPTY-unset}"'],
        env: { GREETING: 'hello world', QUOTED: `it's "x=y"`, EMPTY: '' },
      });
      assert.equal(outcome.stdout.toString(), `hello world|it's "x=y"|`);
    });

    test('the image default command runs when no command is given', async () => {
      const outcome = await run({ command: undefined, stdin: Buffer.from('echo from-default-sh\n') });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.toString(), 'from-default-sh\n');
    });

    test('labels are applied to the running container', async () => {
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo ready >&2; sleep 30'] });
      const controller = new AbortController();
      let listed: Promise<string[]> | undefined;
      const outcome = await runLeavingNothing(engine, spec, {
        signal: controller.signal,
        onStderr: () => {
          listed ??= engine.listContainers(spec.labels).finally(() => controller.abort());
        },
      });
      assert.deepEqual(await listed, [spec.name]);
      assert.equal(outcome.aborted, true);
    });

    test('the network is none: only the loopback interface exists', async () => {
      const outcome = await run({ command: ['ls', '/sys/class/net'] });
      assert.equal(outcome.exitCode, 0);
      assert.equal(outcome.stdout.toString(), 'lo\n');
    });

    test('all capabilities are dropped and no new privileges can be gained', async () => {
      const outcome = await run({ command: ['grep', '-E', '^(CapEff|CapPrm|CapBnd|NoNewPrivs)', '/proc/self/status'] });
      const status = outcome.stdout.toString();
      assert.match(status, /^CapEff:\s+0{16}$/m);
      assert.match(status, /^CapPrm:\s+0{16}$/m);
      assert.match(status, /^CapBnd:\s+0{16}$/m);
      assert.match(status, /^NoNewPrivs:\s+1$/m);
    });
  });
}
