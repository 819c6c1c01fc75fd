/**
 * A runner with network none, on each real engine: the container has only a loopback interface and
 * cannot reach a server on the host's loopback, and it is created the way that is fastest on the
 * engine (on Docker NetworkDisabled as well as NetworkMode none, which spares Docker building a
 * network sandbox; Podman ignores NetworkDisabled, so NetworkMode none must be explicit there).
 * A host-network container reaching the same server shows the probe itself works.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { resolveEngineAddress } from '../../src/engine/engine-socket.ts';
import { runLeavingNothing, TEST_FILE_LABEL, TEST_IMAGE, testEngines, testSpec } from '../helpers/engines.ts';

const FILE_ID = randomUUID();

/** A TCP server on the host's 127.0.0.1 that counts the connections it accepts. */
async function countingServer(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, connections: () => count, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function dockerode(dockerHost: string): Docker {
  const address = resolveEngineAddress(dockerHost);
  return new Docker(address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port });
}

for (const { name, dockerHost } of testEngines()) {
  describe(`network none on ${name}`, () => {
    const engine = createDockerEngine({ dockerHost });
    const docker = dockerode(dockerHost);
    let server: Awaited<ReturnType<typeof countingServer>>;
    const probe = (): string[] => ['sh', '-c', `echo probe | nc 127.0.0.1 ${server.port}; echo "nc exit $?"`];

    before(async () => {
      await engine.ping();
      await ensureBusyboxImage(dockerHost, TEST_IMAGE);
      server = await countingServer();
    });

    after(async () => {
      await server?.close();
      await engine.removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    });

    test('only the loopback interface exists', async () => {
      const outcome = await runLeavingNothing(engine, testSpec(FILE_ID, { command: ['sh', '-c', 'ls /sys/class/net; cat /proc/net/dev'] }));
      assert.equal(outcome.exitCode, 0);
      const [listed, devices] = outcome.stdout.toString().split('Inter-|');
      assert.equal(listed, 'lo\n');
      // /proc/net/dev: two header lines, then one line per interface.
      const interfaces = (devices ?? '').trim().split('\n').slice(2).map((line) => line.trim().split(':')[0]);
      assert.deepEqual(interfaces, ['lo']);
    });

    test('a server on the host\'s loopback cannot be reached', async () => {
      const outcome = await runLeavingNothing(engine, testSpec(FILE_ID, { command: probe() }));
      assert.equal(outcome.stdout.toString(), 'nc exit 1\n');
      assert.match(outcome.stderr.toString(), /can't connect/);
      assert.equal(server.connections(), 0);
    });

    test('the same probe with network host reaches the server (the probe works)', async () => {
      const before = server.connections();
      const outcome = await runLeavingNothing(engine, testSpec(FILE_ID, { command: probe(), network: 'host' }));
      assert.equal(outcome.stdout.toString(), 'nc exit 0\n', outcome.stderr.toString());
      assert.equal(server.connections(), before + 1);
    });

    test(`the container is created with NetworkMode none${name === 'docker' ? ' and NetworkDisabled' : ''}`, async () => {
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo ready >&2; sleep 30'] });
      const controller = new AbortController();
      let inspected: Promise<Docker.ContainerInspectInfo> | undefined;
      const outcome = await runLeavingNothing(engine, spec, {
        signal: controller.signal,
        onStderr: () => {
          inspected ??= docker.getContainer(spec.name).inspect().finally(() => controller.abort());
        },
      });
      assert.equal(outcome.aborted, true);
      const info = await inspected!;
      assert.equal(info.HostConfig.NetworkMode, 'none');
      // Podman does not report NetworkDisabled; the interface tests above are what counts there.
      if (name === 'docker') assert.equal((info.Config as { NetworkDisabled?: boolean }).NetworkDisabled, true);
    });
  });
}
