/**
 * Which container engines the integration tests run against. Every listed engine is required: a
 * missing or unreachable one makes the tests fail, never skip, so a green run means both were
 * really exercised.
 *
 * BERTH_TEST_ENGINES: comma list of `docker`, `podman` (default both).
 * BERTH_TEST_DOCKER_HOST / BERTH_TEST_PODMAN_HOST: DOCKER_HOST-style overrides of the sockets.
 *
 * Also the specs engine tests run, labelled so each test can prove it left no container behind.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ContainerEngine, ContainerOutcome, ContainerSpec, RunOptions } from '../../src/engine/container-engine.ts';
import { SANDBOX_DEFAULTS } from '../../src/runners/runner-sandbox.ts';

export type TestEngineName = 'docker' | 'podman';

export interface TestEngine {
  readonly name: TestEngineName;
  readonly dockerHost: string;
}

/** A busybox image made locally by ensureBusyboxImage (no registry needed). */
export const TEST_IMAGE = 'berth-test/busybox:1';

const DEFAULT_HOSTS: Readonly<Record<TestEngineName, string>> = {
  docker: 'unix:///var/run/docker.sock',
  podman: 'unix:///run/podman/podman.sock',
};

export function testEngines(env: NodeJS.ProcessEnv = process.env): TestEngine[] {
  const names = (env['BERTH_TEST_ENGINES'] ?? 'docker,podman')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new Error('BERTH_TEST_ENGINES lists no engines; use docker, podman or docker,podman');
  return [...new Set(names)].map((name) => {
    if (name !== 'docker' && name !== 'podman') {
      throw new Error(`BERTH_TEST_ENGINES: unknown engine "${name}"; expected docker or podman`);
    }
    const override = env[name === 'docker' ? 'BERTH_TEST_DOCKER_HOST' : 'BERTH_TEST_PODMAN_HOST'];
    return { name, dockerHost: override !== undefined && override !== '' ? override : DEFAULT_HOSTS[name] };
  });
}

/** Label carried by every container an engine test creates; its value is unique per test case. */
export const TEST_CASE_LABEL = 'berth.test.case';
/** Label whose value is unique per test file, for the file's cleanup hook. */
export const TEST_FILE_LABEL = 'berth.test.file';

/**
 * A spec for TEST_IMAGE with a unique name and labels: `fileId` groups the file's containers for
 * its `after` cleanup, and a fresh case id lets a test check that it left nothing behind. The
 * sandbox is a runner's default one (non-root, read-only root, init, limits), as the worker asks.
 */
export function testSpec(fileId: string, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  const caseId = randomUUID();
  return {
    name: `berth-test-${caseId}`,
    image: TEST_IMAGE,
    command: ['true'],
    env: {},
    labels: { [TEST_FILE_LABEL]: fileId, [TEST_CASE_LABEL]: caseId },
    network: 'none',
    user: SANDBOX_DEFAULTS.user,
    readOnlyRootfs: SANDBOX_DEFAULTS.readOnly,
    tmpfsBytes: SANDBOX_DEFAULTS.tmpBytes,
    init: SANDBOX_DEFAULTS.init,
    memoryBytes: SANDBOX_DEFAULTS.memoryBytes,
    pids: SANDBOX_DEFAULTS.pids,
    nofile: SANDBOX_DEFAULTS.nofile,
    logBytes: SANDBOX_DEFAULTS.logBytes,
    stdin: Buffer.alloc(0),
    timeoutMs: 30_000,
    stdoutLimitBytes: 4 * 1024 * 1024,
    stderrLimitBytes: 64 * 1024,
    ...overrides,
  };
}

/** Runs the spec, then fails the test if any container with the case's label is left. */
export async function runLeavingNothing(
  engine: ContainerEngine,
  spec: ContainerSpec,
  options?: RunOptions,
): Promise<ContainerOutcome> {
  let outcome: ContainerOutcome;
  try {
    outcome = await engine.run(spec, options);
  } finally {
    const caseLabel = { [TEST_CASE_LABEL]: spec.labels[TEST_CASE_LABEL] ?? '' };
    assert.deepEqual(await engine.listContainers(caseLabel), [], `container left behind by ${spec.name}`);
  }
  return outcome;
}
