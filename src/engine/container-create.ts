/**
 * Creating the container for a spec: the configuration Berth asks for, and what a failed create
 * means for the caller (nothing was made, or something may have been).
 *
 * The request is sent with node:http rather than dockerode's createContainer, which copies the
 * whole configuration into the query string as well as the body: every task's environment
 * (secrets included) would be in the request line, which engines write to their debug logs.
 */
import { EngineError, type ContainerSpec } from './container-engine.ts';
import { mayHaveReachedEngine, statusOf, toEngineError } from './engine-errors.ts';
import type { EngineCall } from './engine-liveness.ts';
import { engineRequest, EngineHttpError, type EngineAddress } from './engine-socket.ts';

/**
 * RLIMIT_NPROC, sent because Podman 4's compat API, given any Ulimits, sets every one it was not
 * given to its own maximum (nproc 1048576), which is above its service's hard limit, so runc
 * fails to start the container with EPERM (checked here). The limit counts the processes of the
 * container's uid across the whole host, not per container: the per-task bound is PidsLimit, and
 * this one only has to leave room for many tasks at once under the same uid.
 */
const NPROC = 4096;

/**
 * The Engine API create body. Network "none" is set explicitly (Podman turns an unset mode into a
 * bridge) and, with it, NetworkDisabled: without it Docker still builds a network sandbox for the
 * container, about 100 ms per container, for the same isolation (its own network namespace with
 * only `lo`). Podman ignores NetworkDisabled.
 *
 * The log driver is left to the engine (json-file on Docker, k8s-file on Podman) and only its
 * size is set: `max-size` is the one option both accept, and with Docker's default of one file it
 * is a bound, not a rotation. Podman with ReadonlyRootfs also mounts tmpfs on /run and /var/tmp
 * (its read-only-tmpfs default, which the compat API does not let a client turn off); their pages,
 * like /tmp's, count against the memory limit.
 */
export function containerConfig(spec: ContainerSpec): Record<string, unknown> {
  return {
    Image: spec.image,
    ...(spec.command === undefined ? {} : { Cmd: [...spec.command] }),
    User: spec.user,
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Labels: { ...spec.labels },
    Tty: false,
    OpenStdin: true,
    // The engine closes the program's stdin when the attached client half-closes: that is the EOF.
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    ...(spec.network === 'none' ? { NetworkDisabled: true } : {}),
    HostConfig: {
      NetworkMode: spec.network,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Init: spec.init,
      ReadonlyRootfs: spec.readOnlyRootfs,
      // mode=1777 only applies where the image has no /tmp: over an existing one the engines keep its mode.
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${spec.tmpfsBytes},mode=1777` },
      // Memory equal to MemorySwap means no swap, so the memory limit is a real limit.
      Memory: spec.memoryBytes,
      MemorySwap: spec.memoryBytes,
      ...(spec.nanoCpus === undefined ? {} : { NanoCpus: spec.nanoCpus }),
      PidsLimit: spec.pids,
      Ulimits: [
        { Name: 'nofile', Soft: spec.nofile, Hard: spec.nofile },
        { Name: 'nproc', Soft: NPROC, Hard: NPROC },
      ],
      LogConfig: { Config: { 'max-size': String(spec.logBytes) } },
    },
  };
}

/**
 * Creates the container; resolves with its id. Throws EngineError: image_not_found, create_failed
 * (refused), unreachable (never reached the engine), or, when the engine may have created it
 * without saying so (no answer in time, connection cut), with containerMayRemain set unless the
 * container could be removed by name at once.
 */
export async function createContainer(
  address: EngineAddress, call: EngineCall, spec: ContainerSpec, removeByName: (name: string) => Promise<void>,
): Promise<string> {
  const action = `creating container ${spec.name}`;
  try {
    const body = { contentType: 'application/json', data: Buffer.from(JSON.stringify(containerConfig(spec))) };
    const path = `/containers/create?name=${encodeURIComponent(spec.name)}`;
    const response = await call(action, (signal) => engineRequest(address, 'POST', path, body, signal));
    if (response.status !== 201 && response.status !== 200) throw new EngineHttpError(response.status, `HTTP ${response.status} ${messageOf(response.body)}`);
    const id = (JSON.parse(response.body.toString('utf8')) as { Id?: unknown }).Id;
    if (typeof id !== 'string') throw new Error(`the engine's answer names no container id: ${response.body.toString('utf8').slice(0, 200)}`);
    return id;
  } catch (error) {
    if (statusOf(error) === 404) {
      throw new EngineError('image_not_found', `image "${spec.image}" is not present in the container engine (Berth does not pull images)`, { cause: error });
    }
    const failure = toEngineError(error, 'create_failed', action);
    if (!mayHaveReachedEngine(error)) throw failure;
    // A hung engine will not answer a removal either: the caller removes it (by its labels) later.
    if (failure.reason !== 'unresponsive') {
      const removed = await removeByName(spec.name).then(() => true, () => false);
      if (removed) throw failure;
    }
    throw new EngineError(failure.reason, `${failure.message}; the engine may have created the container anyway`, {
      cause: error, containerMayRemain: true,
    });
  }
}

/** The engine's `{"message": …}`, or the raw text. */
function messageOf(body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    return typeof message === 'string' ? message : text;
  } catch {
    return text;
  }
}
