/**
 * What the Docker adapter asks of each real engine per task, seen through a pass-through proxy
 * (test/helpers/engine-proxy.ts): nothing beyond what the task needs. On Docker: create, one attach
 * carrying stdin, stdout and stderr, wait, start, remove; on Podman a second attach for stdin (see
 * src/engine/container-streams.ts). The engine's kind is asked once per engine, and the create
 * request's URL carries no configuration (the task's environment stays out of request lines).
 * And an exit wait the engine never answers (Podman can lose one) costs seconds, not the task's timeout.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import { createDockerEngine } from '../../src/engine/docker-engine.ts';
import { resolveEngineAddress } from '../../src/engine/engine-socket.ts';
import { startEngineProxy, type EngineProxy } from '../helpers/engine-proxy.ts';
import { TEST_CASE_LABEL, TEST_FILE_LABEL, TEST_IMAGE, testEngines, testSpec } from '../helpers/engines.ts';

const FILE_ID = randomUUID();

/** Container ids and names become {id}, so runs compare; sorted, since requests of one task overlap. */
/**
 * The task's requests, by shape. Liveness pings are left out: the engine watch sends them only
 * while an answer is slow (engine-liveness.ts), as on a loaded machine, so they are no per-task cost.
 */
function shapes(requests: readonly string[], names: readonly string[]): string[] {
  return requests
    .filter((line) => line !== 'GET /_ping')
    .map((line) => names.reduce((text, name) => text.replaceAll(name, '{name}'), line))
    .map((line) => line.replace(/\/containers\/[0-9a-f]{64}\b/, '/containers/{id}').replace('/containers/{name}/', '/containers/{id}/'))
    .sort();
}

for (const { name, dockerHost } of testEngines()) {
  describe(`engine requests per task on ${name}`, () => {
    const direct = createDockerEngine({ dockerHost });
    let proxy: EngineProxy;

    before(async () => {
      await direct.ping();
      await ensureBusyboxImage(dockerHost, TEST_IMAGE);
      const address = resolveEngineAddress(dockerHost);
      assert.equal(address.kind, 'unix', 'the proxy needs the engine on a unix socket');
      proxy = await startEngineProxy(address.socketPath);
    });

    after(async () => {
      await proxy?.close();
      await direct.removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    });

    test('a successful task costs only create, attach, wait, start and remove; the version is asked once', async () => {
      const engine = createDockerEngine({ dockerHost: proxy.dockerHost });
      const attaches = name === 'docker'
        ? ['POST /containers/{id}/attach?stream=true&stdin=true&stdout=true&stderr=true']
        : ['POST /containers/{id}/attach?stream=true&stdin=false&stdout=true&stderr=true',
          'POST /containers/{id}/attach?stream=true&stdin=true&stdout=false&stderr=false'];
      const perTask = [
        'DELETE /containers/{id}?force=true&v=true',
        ...attaches,
        'POST /containers/create?name={name}',
        'POST /containers/{id}/start',
        'POST /containers/{id}/wait?condition=next-exit',
      ].sort();
      for (const round of [1, 2]) {
        proxy.clearRequests();
        const spec = testSpec(FILE_ID, { command: ['cat'], stdin: Buffer.from(`round ${round}\n`) });
        const outcome = await engine.run(spec);
        assert.equal(outcome.exitCode, 0);
        assert.equal(outcome.stdout.toString(), `round ${round}\n`);
        const expected = round === 1 ? [...perTask, 'GET /version'].sort() : perTask;
        assert.deepEqual(shapes(proxy.requests(), [spec.name]), expected);
        assert.deepEqual(await direct.listContainers({ [TEST_CASE_LABEL]: spec.labels[TEST_CASE_LABEL]! }), []);
      }
    });

    test('an exit wait the engine never answers: the exit is read from inspect within seconds, not at the timeout', async (t) => {
      const address = resolveEngineAddress(dockerHost);
      assert.ok(address.kind === 'unix', 'the proxy needs the engine on a unix socket');
      const lossy = await startEngineProxy(address.socketPath);
      t.after(() => lossy.close());
      lossy.swallow(/\/wait\?/);
      const engine = createDockerEngine({ dockerHost: lossy.dockerHost });
      const started = Date.now();
      for (const [command, exitCode] of [[['cat'], 0], [['sh', '-c', 'cat; exit 3'], 3]] as const) {
        const outcome = await engine.run(testSpec(FILE_ID, { command: [...command], stdin: Buffer.from('lost wait\n'), timeoutMs: 60_000 }));
        assert.equal(outcome.timedOut, false);
        assert.equal(outcome.exitCode, exitCode);
        assert.equal(outcome.stdout.toString(), 'lost wait\n');
      }
      assert.ok(lossy.requests().some((line) => line.includes('/wait?')), 'no wait was sent, so none was lost');
      // Two tasks of a 60 s timeout: without the fallback each would end only at its timeout.
      assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    });

    test('the create request\'s URL carries only the name: no environment in the request line', async () => {
      const engine = createDockerEngine({ dockerHost: proxy.dockerHost });
      const secret = `secret-${randomUUID()}`;
      proxy.clearRequests();
      const outcome = await engine.run(testSpec(FILE_ID, { command: ['sh', '-c', 'printf %s "$TOKEN"'], env: { TOKEN: secret } }));
      assert.equal(outcome.stdout.toString(), secret, 'the variable did not reach the program');
      const create = proxy.requests().filter((line) => line.startsWith('POST /containers/create'));
      assert.equal(create.length, 1);
      assert.match(create[0]!, /^POST \/containers\/create\?name=berth-test-[0-9a-f-]+$/);
      assert.ok(proxy.requests().every((line) => !line.includes(secret)), 'the secret appeared in a request line');
    });
  });
}
