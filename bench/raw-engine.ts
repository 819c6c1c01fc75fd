/**
 * The baseline: what a competent dockerode user does to run one `cat` task, with nothing of Berth
 * in between. Per task: create (OpenStdin + StdinOnce, the same hardening Berth applies), one
 * hijacked attach carrying stdin, stdout and stderr, wait (next-exit, asked before start so a fast
 * exit is not missed), start, write the input and half-close (the EOF), read the demultiplexed
 * stdout until the engine closes the stream, take the exit code from wait, remove (force).
 *
 * The attach is a plain node:http POST with `Upgrade: tcp` and no body rather than dockerode's
 * attach(), whose options body can reach the program as stdin (dockerode #742/#777, see
 * /work/shared/design/pitfalls.md). Everything else is dockerode. Berth does more per task (a second
 * attach for stdin, an inspect after a failed exit, its database writes): that is what is measured.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type Docker from 'dockerode';
import { httpTarget, type EngineAddress } from '../src/engine/engine-socket.ts';
import { BENCH_COMMAND, BENCH_IMAGE, BENCH_INSTANCE, MANAGED_BY_LABEL, RAW_LABEL, type EngineTarget } from './engine-target.ts';

export interface RawResult {
  readonly exitCode: number;
  readonly stdout: Buffer;
}

export async function runRawTask(target: EngineTarget, input: unknown): Promise<RawResult> {
  const stdin = Buffer.from(`${JSON.stringify(input)}\n`, 'utf8');
  const container = await target.docker.createContainer({
    Image: BENCH_IMAGE,
    Cmd: [...BENCH_COMMAND],
    Labels: { [MANAGED_BY_LABEL]: BENCH_INSTANCE, [RAW_LABEL]: 'true' },
    Tty: false,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'] },
  });
  try {
    const socket = await attach(target.address, container.id);
    try {
      const output = readStdout(socket);
      const exited = container.wait({ condition: 'next-exit' }) as Promise<{ StatusCode: number }>;
      // If start fails, nobody awaits this wait; it ends (or fails) when the container is removed.
      exited.catch(() => undefined);
      await container.start();
      socket.end(stdin);
      const [stdout, exit] = await Promise.all([output, exited]);
      return { exitCode: exit.StatusCode, stdout };
    } finally {
      socket.destroy();
    }
  } finally {
    await removeQuietly(container);
  }
}

async function removeQuietly(container: Docker.Container): Promise<void> {
  try {
    await container.remove({ force: true, v: true });
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    if (status !== 404 && status !== 409) throw error;
  }
}

function attach(address: EngineAddress, id: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      ...httpTarget(address),
      method: 'POST',
      path: `/containers/${id}/attach?stream=true&stdin=true&stdout=true&stderr=true`,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    request.on('upgrade', (_response, socket: Socket, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    request.on('response', (response) => {
      response.resume();
      reject(new Error(`attach to ${id} refused: HTTP ${response.statusCode}`));
    });
    request.on('error', reject);
    request.end();
  });
}

/** Collects the stdout frames of the multiplexed stream (8-byte headers) until the engine closes it. */
function readStdout(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const stdout: Buffer[] = [];
      for (let at = 0; at < all.length;) {
        if (at + 8 > all.length) return reject(new Error('attach stream ended inside a frame header'));
        const length = all.readUInt32BE(at + 4);
        if (all[at] === 1) stdout.push(all.subarray(at + 8, at + 8 + length));
        at += 8 + length;
      }
      resolve(Buffer.concat(stdout));
    });
  });
}

/** Runs one task and checks that the program received exactly the input (no leaked attach options). */
export async function runRawChecked(target: EngineTarget, input: unknown): Promise<void> {
  const result = await runRawTask(target, input);
  const expected = JSON.stringify(input);
  if (result.exitCode !== 0 || result.stdout.toString('utf8').trim() !== expected) {
    throw new Error(`raw task: exit ${result.exitCode}, stdout ${JSON.stringify(result.stdout.toString('utf8'))}, expected ${expected}`);
  }
}
