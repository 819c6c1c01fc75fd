/**
 * An engine that stops answering (hung, not stopped: it still accepts connections) must not leave
 * run() waiting forever. Two real hangs: a private Podman API service (test/helpers/private-engine.ts)
 * sent SIGSTOP, and Docker behind a pass-through proxy that freezes (test/helpers/engine-proxy.ts).
 *
 * The engine is created with small ping bounds (ENGINE_TIMEOUTS): a hang is declared after 2 pings
 * of 2 s went unanswered, so run() should fail about 5 s after the hang; it must within HANG_BOUND_MS
 * (30 s, far above that on a loaded machine, and shorter than the `sleep 60` it interrupts). The
 * request bound stays generous, so a slow create on a busy machine is not mistaken for a hang;
 * the test of single requests uses an engine of its own with a short one.
 * Then the engine answers again and the caller removes the container by its labels, as the worker
 * does when an EngineError has containerMayRemain set; nothing may be left.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { EngineError, type ContainerEngine, type ContainerOutcome, type ContainerSpec } from '../../src/engine/container-engine.ts';
import { createDockerEngine, type EngineTimeouts } from '../../src/engine/docker-engine.ts';
import { resolveEngineAddress } from '../../src/engine/engine-socket.ts';
import { ensureBusyboxImage } from '../../scripts/busybox-image.ts';
import { startEngineProxy, type EngineProxy } from '../helpers/engine-proxy.ts';
import { TEST_CASE_LABEL, TEST_FILE_LABEL, TEST_IMAGE, testEngines, testSpec } from '../helpers/engines.ts';
import { startPrivatePodman, type PrivateEngine } from '../helpers/private-engine.ts';

const FILE_ID = randomUUID();
const ENGINE_TIMEOUTS: EngineTimeouts = { requestMs: 30_000, pingMs: 2_000, pingIntervalMs: 500, pingMisses: 2 };
/** For the test of single requests to a hung engine, where nothing runs before the hang. */
const QUICK_REQUEST_MS = 3_000;
const HANG_BOUND_MS = 30_000;
/** After the engine answers again, how long a create it received while hung may take to show up. */
const LATE_CREATE_MS = 10_000;

/** One way to hang an engine and let it go on. */
interface Hangable {
  readonly dockerHost: string;
  /** Resolves once the engine can no longer answer anything. */
  hang(): Promise<void>;
  resume(): void;
  close(): Promise<void>;
}

async function privatePodman(): Promise<Hangable> {
  const service: PrivateEngine = await startPrivatePodman();
  const signal = (name: 'SIGSTOP' | 'SIGCONT'): void => {
    const pid = service.pid();
    assert.ok(pid !== undefined, 'the private podman service is not running');
    process.kill(pid, name);
  };
  return {
    dockerHost: service.dockerHost,
    async hang() {
      signal('SIGSTOP');
      await allThreadsStopped(service.pid()!);
    },
    resume: () => signal('SIGCONT'),
    async close() {
      if (service.pid() !== undefined) process.kill(service.pid()!, 'SIGCONT');
      await service.destroy();
    },
  };
}

async function frozenProxy(dockerHost: string): Promise<Hangable> {
  const address = resolveEngineAddress(dockerHost);
  assert.equal(address.kind, 'unix', 'the proxy needs the engine on a unix socket');
  const proxy: EngineProxy = await startEngineProxy(address.socketPath);
  return { dockerHost: proxy.dockerHost, hang: async () => proxy.freeze(), resume: () => proxy.thaw(), close: () => proxy.close() };
}

/**
 * kill() only queues SIGSTOP: the process stops once one of its threads takes the signal, and on a
 * busy machine that can be milliseconds later, while another thread still answers a request (CI saw
 * a ping answered 4 ms after the kill). So the hang starts when every thread reads as stopped.
 */
async function allThreadsStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const threads = await readdir(`/proc/${pid}/task`);
    const states = await Promise.all(threads.map(async (tid) =>
      // The state follows the parenthesised command name, which may itself hold spaces.
      (await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8')).replace(/^.*\) /s, '').charAt(0)));
    if (states.every((state) => state === 'T' || state === 't')) return;
    if (Date.now() > deadline) assert.fail(`the podman service did not stop within 5 s (thread states ${states.join('')})`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** run() settles, or the test fails once HANG_BOUND_MS have passed since `since`. */
async function settledWithinBound(running: Promise<ContainerOutcome>, since: () => number | undefined): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const stillPending = new Promise<never>((_resolve, reject) => {
    const check = (): void => {
      const start = since();
      if (start !== undefined && Date.now() - start > HANG_BOUND_MS) reject(new Error(`run() still pending ${HANG_BOUND_MS} ms after the engine hung`));
      else timer = setTimeout(check, 250);
    };
    check();
  });
  try {
    return await Promise.race([running.then(() => assert.fail('run() resolved although the engine hung'), (error: unknown) => error), stillPending]);
  } finally {
    clearTimeout(timer);
  }
}

function assertHungEngineError(error: unknown): asserts error is EngineError {
  assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
  assert.equal(error.reason, 'unresponsive', error.message);
  assert.equal(error.containerMayRemain, true, 'a run cut short by a hang must say its container may remain');
}

/** The worker's part once the engine answers again: remove by labels until nothing is left. */
async function removeLikeTheWorker(engine: ContainerEngine, spec: ContainerSpec, expectContainer: boolean): Promise<void> {
  const labels = { [TEST_CASE_LABEL]: spec.labels[TEST_CASE_LABEL]! };
  const deadline = Date.now() + LATE_CREATE_MS;
  let removed = await engine.removeContainers(labels);
  // A create the hung engine received is carried out when it resumes, a moment later.
  while (!expectContainer && removed === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    removed = await engine.removeContainers(labels);
  }
  if (expectContainer) assert.equal(removed, 1, 'the container of the interrupted run was not there to remove');
  assert.deepEqual(await engine.listContainers(labels), [], 'a container was left behind');
}

const targets: { name: string; start: () => Promise<Hangable>; dockerHost: string }[] = testEngines().map((engine) => ({
  name: engine.name === 'podman' ? 'a private podman service (SIGSTOP)' : 'docker behind a frozen proxy',
  start: engine.name === 'podman' ? privatePodman : () => frozenProxy(engine.dockerHost),
  dockerHost: engine.dockerHost,
}));

for (const target of targets) {
  describe(`a hung engine: ${target.name}`, () => {
    let hangable: Hangable;
    let engine: ContainerEngine;

    before(async () => {
      await ensureBusyboxImage(target.dockerHost, TEST_IMAGE);
      hangable = await target.start();
      engine = createDockerEngine({ dockerHost: hangable.dockerHost, timeouts: ENGINE_TIMEOUTS });
      // A first run proves the set-up, and lets the engine's kind be known before any hang, as
      // it is in a worker that has run a task: a hang before create then hangs the create itself.
      assert.equal((await engine.run(testSpec(FILE_ID))).exitCode, 0);
    });

    after(async () => {
      await hangable?.close();
      await createDockerEngine({ dockerHost: target.dockerHost }).removeContainers({ [TEST_FILE_LABEL]: FILE_ID });
    });

    test('a hang while the container runs ends run() with EngineError unresponsive', async () => {
      const spec = testSpec(FILE_ID, { command: ['sh', '-c', 'echo started >&2; sleep 60'], timeoutMs: 120_000 });
      let hungAt: number | undefined;
      const running = engine.run(spec, {
        onStderr: () => {
          if (hungAt !== undefined) return;
          hungAt = Date.now();
          void hangable.hang();
        },
      });
      let error: unknown;
      try {
        error = await settledWithinBound(running, () => hungAt);
      } finally {
        if (hungAt !== undefined) hangable.resume();
      }
      assertHungEngineError(error);
      await removeLikeTheWorker(engine, spec, true);
    });

    test('a hang before the container is created ends run() the same way', async () => {
      const spec = testSpec(FILE_ID, { command: ['true'] });
      await hangable.hang();
      const hungAt = Date.now();
      let error: unknown;
      try {
        error = await settledWithinBound(engine.run(spec), () => hungAt);
      } finally {
        hangable.resume();
      }
      assertHungEngineError(error);
      await removeLikeTheWorker(engine, spec, false);
    });

    test('ping() and listContainers() of a hung engine fail as unresponsive', async () => {
      const quick = createDockerEngine({ dockerHost: hangable.dockerHost, timeouts: { ...ENGINE_TIMEOUTS, requestMs: QUICK_REQUEST_MS } });
      await hangable.hang();
      try {
        await assert.rejects(quick.ping(), (error: unknown) => error instanceof EngineError && error.reason === 'unresponsive');
        await assert.rejects(quick.listContainers({ [TEST_FILE_LABEL]: FILE_ID }),
          (error: unknown) => error instanceof EngineError && error.reason === 'unresponsive');
      } finally {
        hangable.resume();
      }
      await quick.ping();
    });
  });
}
