/**
 * A container's stdin and output over hijacked attach connections, opened before it starts so no
 * early output, or early exit, is missed.
 *
 * Attach goes through engine-socket.ts (plain node:http), not dockerode, so that exactly the input
 * bytes reach the program (dockerode #742/#777). On Docker one connection carries stdin, stdout
 * and stderr. On any other engine stdin has a connection of its own: Podman 4, when the container
 * exits before reading all of its stdin, writes its own "Error: write unixpacket ... broken pipe"
 * frame into the stderr of the connection that carried the stdin, and with a stdin-only
 * connection that noise lands where nobody reads it. (The two must be opened one after the other:
 * opened together, Podman refuses the second with 409.) Stream flags are spelled true/false:
 * Podman 4.3 did not treat `stdout=0` as false.
 */
import type { Socket } from 'node:net';
import { EngineError } from './container-engine.ts';
import type { EngineKind } from './engine-kind.ts';
import { bounded } from './engine-liveness.ts';
import { attachStream, type EngineAddress } from './engine-socket.ts';
import { describe, toEngineError } from './engine-errors.ts';
import type { OutputCapture } from './stream-demux.ts';

export interface ContainerStreams {
  /** Carries the multiplexed stdout and stderr. */
  readonly output: Socket;
  /** Takes the stdin; the output socket itself on Docker. */
  readonly stdin: Socket;
  /** Destroys every connection. */
  close(): void;
}

export interface AttachBounds {
  readonly requestMs: number;
  /** Aborts the attach requests (the engine was declared hung). */
  readonly until: AbortSignal;
}

export async function openStreams(address: EngineAddress, containerId: string, kind: EngineKind, limits: AttachBounds): Promise<ContainerStreams> {
  if (kind === 'docker') {
    const socket = await attach(address, containerId, 'stdin=true&stdout=true&stderr=true', limits);
    return { output: socket, stdin: socket, close: () => socket.destroy() };
  }
  const output = await attach(address, containerId, 'stdin=false&stdout=true&stderr=true', limits);
  try {
    const stdin = await attach(address, containerId, 'stdin=true&stdout=false&stderr=false', limits);
    // Never let this connection apply backpressure: Podman's conmon sends output to every attach
    // session in lockstep, so one unread session stalls the container (and even its kill).
    stdin.resume();
    return { output, stdin, close: () => { output.destroy(); stdin.destroy(); } };
  } catch (error) {
    output.destroy();
    throw error;
  }
}

async function attach(address: EngineAddress, containerId: string, streams: string, limits: AttachBounds): Promise<Socket> {
  try {
    const socket = await bounded(`attaching to container ${containerId}`, limits.requestMs, limits.until,
      (signal) => attachStream(address, containerId, streams, signal));
    // At once, so a reset between here and the first read cannot crash the process. A broken
    // connection shows up as a close; the exit status read afterwards reveals an engine in trouble.
    socket.on('error', () => undefined);
    return socket;
  } catch (error) {
    // A refusal is part of setting the container up: Podman prepares (runc-creates) the container
    // when attaching, so a command that cannot be executed is reported here rather than at start.
    throw toEngineError(error, 'create_failed', `attaching to container ${containerId}`);
  }
}

/**
 * Writes exactly `stdin`, then half-closes so the program sees EOF. EPIPE when the program exits
 * without reading everything is expected (and ignored by attach()). The write needs no timer of
 * its own: it cannot outlive the container, which the deadline and the engine watch bound.
 */
export function feedStdin(streams: ContainerStreams, stdin: Buffer): void {
  streams.stdin.end(stdin);
}

/**
 * Resolves when the engine ends the output stream, i.e. the container's output is finished. At
 * its end, not the connection's close: on a connection that also carries stdin, Docker ends the
 * output at the program's exit but goes on reading (and discarding) the stdin the program never
 * read, for seconds with a large input, before it closes the connection.
 */
export function consumeOutput(streams: ContainerStreams, capture: OutputCapture): Promise<void> {
  const socket = streams.output;
  return new Promise((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      try {
        capture.push(chunk);
      } catch (error) {
        socket.destroy();
        reject(new EngineError('engine_failure', `processing the container's output failed: ${describe(error)}`, { cause: error }));
      }
    });
    socket.on('end', () => resolve());
    // A connection broken before its end (engine gone) closes without one.
    socket.on('close', () => resolve());
  });
}
