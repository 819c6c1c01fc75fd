/**
 * The hardened container every runner gets by default, checked from inside the container on each
 * real engine: a non-root user, a read-only root filesystem with a bounded tmpfs on /tmp, an init
 * as PID 1 (signals reach the program, orphans are reaped), memory without swap (a program over it
 * is OOM-killed, and the outcome says so on both engines), a pid limit a fork loop runs into, the
 * nofile ulimit, and a bounded engine log. Each override a runner may write is checked too, and
 * each default against the spec that turns it off, so a test fails if the default is lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import type { ContainerSpec } from '../../src/engine/container-engine.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { resolveEngineAddress } from '../../src/engine/engine-socket.ts';
import { SANDBOX_DEFAULTS } from '../../src/runners/runner-sandbox.ts';
import { runLeavingNothing, TEST_FILE_LABEL, TEST_IMAGE, testEngines, testSpec } from '../helpers/engines.ts';

const FILE_ID = randomUUID();
const MiB = 1024 * 1024;

/** cgroup v1 or v2, whichever the engine's host mounts. */
const CGROUP = (v1: string, v2: string): string => `cat /sys/fs/cgroup/${v1} 2>/dev/null || cat /sys/fs/cgroup/${v2}`;

function dockerode(dockerHost: string): Docker {
  const address = resolveEngineAddress(dockerHost);
  return new Docker(address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port });
}


/**
 * The size of the engine's log file. Docker rotates it (max-file 1) by replacing the file, so a
 * stat can fall between the removal and the new file: look again shortly (the program has stopped
 * writing by then, so the file settles).
 */
async function logFileSize(file: string): Promise<number> {
  for (let tries = 0; ; tries += 1) {
    try {
      return (await stat(file)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || tries >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

for (const { name, dockerHost } of testEngines()) {
  describe(`the default container sandbox on ${name}`, () => {
    const engine = createDockerEngine({ dockerHost });
    const docker = dockerode(dockerHost);
    const run = (script: string, overrides: Partial<ContainerSpec> = {}) =>
      runLeavingNothing(engine, testSpec(FILE_ID, { command: ['sh', '-c', script], ...overrides }));
    const stdout = async (script: string, overrides: Partial<ContainerSpec> = {}): Promise<string> => {
      const outcome = await run(script, overrides);
      assert.equal(outcome.exitCode, 0, outcome.stderr.toString());
      return outcome.stdout.toString();
    };

    before(async () => {
      await engine.ping();
      await ensureBusyboxImage(dockerHost, TEST_IMAGE);
    });

    after(async () => {
      await engine.removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    });

    test('the program runs as 65534:65534, not root; user: overrides it', async () => {
      assert.equal(SANDBOX_DEFAULTS.user, '65534:65534');
      assert.equal(await stdout('id -u; id -g'), '65534\n65534\n');
      assert.equal(await stdout('id -u; id -g', { user: '1000:50' }), '1000\n50\n');
      assert.equal(await stdout('id -un', { user: 'nobody' }), 'nobody\n');
    });

    test('the root filesystem is read-only, even for root; read_only: false makes it writable', async () => {
      // /root is root's own (0755) in the image; Podman's / is not writable without CAP_DAC_OVERRIDE.
      const probe = 'touch /root/probe 2>&1; echo "exit $?"';
      assert.equal(await stdout(probe), 'touch: /root/probe: Read-only file system\nexit 1\n');
      assert.equal(await stdout(probe, { user: '0' }), 'touch: /root/probe: Read-only file system\nexit 1\n');
      assert.equal(await stdout(probe, { user: '0', readOnlyRootfs: false }), 'exit 0\n');
    });

    test('/tmp is a writable tmpfs of the set size, and writing past it fails', async () => {
      const out = await stdout(
        'echo x > /tmp/a && cat /tmp/a; df -k /tmp | tail -n 1 | awk \'{print $1, $2}\'; head -c 3000000 /dev/zero > /tmp/big; echo "exit $?"',
        { tmpfsBytes: 2 * MiB },
      );
      assert.match(out, /^x\ntmpfs 2048\n.*exit 1\n$/s);
      // The default size, as the engine mounts it.
      assert.equal(await stdout('df -k /tmp | tail -n 1 | awk \'{print $2}\''), `${SANDBOX_DEFAULTS.tmpBytes / 1024}\n`);
    });

    test('PID 1 is the engine\'s init: SIGTERM to it reaches the program; init: false makes the program PID 1', async () => {
      assert.match(await stdout('cat /proc/1/comm'), /^(docker|podman)-init\n$/);
      // With init the TERM is passed on to sh, which dies of it (128 + 15); sh as PID 1 ignores it.
      const term = 'kill -TERM 1; sleep 2; echo survived';
      const killed = await run(term);
      assert.equal(killed.exitCode, 143, killed.stderr.toString());
      assert.equal(killed.stdout.toString(), '');
      assert.equal(await stdout(term, { init: false }), 'survived\n');
    });

    test('orphaned processes are reaped by the init (not left as zombies)', async () => {
      // xargs waits for its own child only: as PID 1 (init: false) it leaves the orphans as zombies.
      const spec = (init: boolean) => testSpec(FILE_ID, {
        init, command: ['xargs', 'sh', '-c', '(sleep 0.1 &); (sleep 0.1 &); sleep 1; echo zombies $(ps -o stat | grep -c ^Z)'],
      });
      assert.equal((await runLeavingNothing(engine, spec(true))).stdout.toString(), 'zombies 0\n');
      assert.equal((await runLeavingNothing(engine, spec(false))).stdout.toString(), 'zombies 2\n');
    });

    test('memory is limited to the set size with no swap on top', async () => {
      const limits = await stdout([
        CGROUP('memory/memory.limit_in_bytes', 'memory.max'),
        CGROUP('memory/memory.memsw.limit_in_bytes', 'memory.swap.max'),
      ].join('; '));
      const [memory, swap] = limits.trim().split('\n');
      assert.equal(Number(memory), SANDBOX_DEFAULTS.memoryBytes);
      // v1 counts memory+swap together (equal: no swap); v2 counts swap alone (0).
      assert.ok(Number(swap) === SANDBOX_DEFAULTS.memoryBytes || swap === '0', `swap limit ${swap}`);
    });

    test('a program over its memory limit is killed and the outcome says oomKilled', async () => {
      const outcome = await run('x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived ${#x}', { memoryBytes: 32 * MiB });
      assert.equal(outcome.exitCode, 137, outcome.stderr.toString());
      assert.equal(outcome.oomKilled, true);
      assert.equal(outcome.timedOut, false);
      assert.equal(outcome.stdout.toString(), '');
    });

    test('a SIGKILL Berth sent (a timeout) is not taken for an OOM kill', async () => {
      const outcome = await run('sleep 30', { timeoutMs: 500 });
      assert.equal(outcome.timedOut, true);
      // 137 as a rule; on a loaded machine Podman's wait may not tell the exit before the kill path gives up on it.
      assert.ok(outcome.exitCode === 137 || outcome.exitCode === null, `exit code ${outcome.exitCode}`);
      assert.equal(outcome.oomKilled, false);
    });

    test('a fork loop stops at the pid limit', async () => {
      // Each iteration leaves a sleeping process; fork fails once the cgroup holds `pids` of them.
      const outcome = await run(`${CGROUP('pids/pids.max', 'pids.max')}; n=0; while :; do sleep 30 & n=$((n+1)); echo $n; done`, { pids: 32 });
      const lines = outcome.stdout.toString().trim().split('\n');
      assert.equal(lines[0], '32');
      const started = Number(lines.at(-1));
      // init and sh hold two of the 32; ps-free count, so allow for a forking subshell or two.
      assert.ok(started >= 25 && started <= 30, `started ${started}`);
      assert.match(outcome.stderr.toString(), /can't fork/);
      assert.equal(outcome.timedOut, false);
      assert.equal(await stdout(CGROUP('pids/pids.max', 'pids.max')), `${SANDBOX_DEFAULTS.pids}\n`);
    });

    test('open files are limited by the nofile ulimit, soft and hard', async () => {
      assert.equal(await stdout('ulimit -n; ulimit -Hn'), `${SANDBOX_DEFAULTS.nofile}\n${SANDBOX_DEFAULTS.nofile}\n`);
      assert.equal(await stdout('ulimit -n; ulimit -Hn', { nofile: 4096 }), '4096\n4096\n');
    });

    test('the engine\'s own log of the container stops growing at the set size', async () => {
      const logBytes = 256 * 1024;
      const spec = testSpec(FILE_ID, {
        logBytes, stderrLimitBytes: 1024,
        command: ['sh', '-c', 'yes | head -c 3000000 >&2; echo; echo logged-all >&2; sleep 30'],
      });
      const controller = new AbortController();
      let seen = '';
      let measured: Promise<number> | undefined;
      const outcome = await runLeavingNothing(engine, spec, {
        signal: controller.signal,
        onStderr: (chunk) => {
          seen = (seen + chunk.toString()).slice(-64);
          if (!seen.includes('logged-all')) return;
          measured ??= docker.getContainer(spec.name).inspect()
            .then((info) => logFileSize(info.LogPath))
            .finally(() => controller.abort());
        },
      });
      assert.equal(outcome.aborted, true);
      const size = await measured!;
      assert.ok(size > 0 && size <= logBytes, `the engine's log holds ${size} bytes after 3 MB of output`);
    });
  });
}
