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
 * The Engine API create body. Network "none" is set explicitly (Podman turns an unset mode into a
 * bridge) and, with it, NetworkDisabled: without it Docker still builds a network sandbox for the
 * container, about 100 ms per container, for the same isolation (its own network namespace with
 * only `lo`). Podman ignores NetworkDisabled.
 */
export function containerConfig(spec: ContainerSpec): Record<string, unknown> {
  return {
    Image: spec.image,
    ...(spec.command === undefined ? {} : { Cmd: [...spec.command] }),
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
      // Memory equal to MemorySwap means no swap, so the memory limit is a real limit.
      ...(spec.memoryBytes === undefined ? {} : { Memory: spec.memoryBytes, MemorySwap: spec.memoryBytes }),
      ...(spec.nanoCpus === undefined ? {} : { NanoCpus: spec.nanoCpus }),
      ...(spec.pids === undefined ? {} : { PidsLimit: spec.pids }),
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
