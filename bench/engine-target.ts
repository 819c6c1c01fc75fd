/**
 * Which container engine the benchmark drives, and the constants both the raw path and Berth share
 * (image, command, labels), so the two do the same work.
 *
 * BENCH_ENGINE=docker|podman picks the engine's default socket; DOCKER_HOST, when set, wins.
 */
import Docker from 'dockerode';
import { resolveEngineAddress, type EngineAddress } from '../src/engine/engine-socket.ts';

export const BENCH_IMAGE = 'berth-bench/busybox:1';
/** The runner's command in bench/berth.yaml: `cat` echoes the JSON input to stdout. */
export const BENCH_COMMAND = ['cat'] as const;
/** BERTH_INSTANCE of the Berth processes, hence the value of their containers' berth.managed-by label. */
export const BENCH_INSTANCE = 'bench';
export const MANAGED_BY_LABEL = 'berth.managed-by';
/** Extra label on the raw path's containers, so cleanup can tell them apart from Berth's. */
export const RAW_LABEL = 'berth-bench.raw';

const DEFAULT_SOCKETS = { docker: 'unix:///var/run/docker.sock', podman: 'unix:///run/podman/podman.sock' } as const;

export interface EngineTarget {
  /** What the user asked for (docker or podman); the engine itself reports its name in describe(). */
  readonly name: 'docker' | 'podman';
  readonly dockerHost: string;
  readonly address: EngineAddress;
  readonly docker: Docker;
}

export function engineTarget(env: NodeJS.ProcessEnv = process.env): EngineTarget {
  const requested = env['BENCH_ENGINE'] ?? 'docker';
  if (requested !== 'docker' && requested !== 'podman') throw new Error(`BENCH_ENGINE must be docker or podman, got ${JSON.stringify(requested)}`);
  const dockerHost = env['DOCKER_HOST'] !== undefined && env['DOCKER_HOST'] !== '' ? env['DOCKER_HOST'] : DEFAULT_SOCKETS[requested];
  const address = resolveEngineAddress(dockerHost);
  const docker = new Docker(address.kind === 'unix' ? { socketPath: address.socketPath } : { host: address.host, port: address.port, protocol: 'http' });
  return { name: requested, dockerHost, address, docker };
}

/** "Docker Engine 20.10.24" / "Podman Engine 4.3.1", from the engine's own /version. */
export async function describeEngine(target: EngineTarget): Promise<string> {
  const version = await target.docker.version() as Docker.DockerVersion & { Components?: { Name: string; Version: string }[] };
  const component = version.Components?.find((c) => /engine/i.test(c.Name));
  // Docker calls its component just "Engine"; Podman says "Podman Engine".
  const name = component === undefined || component.Name === 'Engine' ? 'Docker Engine' : component.Name;
  return `${name} ${component?.Version ?? version.Version} (API ${version.ApiVersion})`;
}

/** Removes every container the benchmark may have left: Berth's (managed-by=bench) and the raw path's. */
export async function removeBenchContainers(target: EngineTarget): Promise<number> {
  const found = await target.docker.listContainers({ all: true, filters: { label: [`${MANAGED_BY_LABEL}=${BENCH_INSTANCE}`] } });
  await Promise.all(found.map((info) => target.docker.getContainer(info.Id).remove({ force: true, v: true }).catch((error: unknown) => {
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  })));
  return found.length;
}
