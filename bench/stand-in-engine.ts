/**
 * A stand-in for the container engine, for the memory phase only: the subset of the Docker Engine
 * API that Berth's worker uses (ping, create, hijacked attach, start, wait, inspect, kill, remove,
 * list), served on a unix socket, where every container "runs" `cat` instantly — it echoes its
 * stdin to stdout as one multiplexed frame and exits 0.
 *
 * Why: the real engines on this machine start about 4-8 containers a second, so the 5,000 tasks
 * the memory phase needs would take 10-20 minutes. Against this stand-in the worker still runs its
 * whole path per task (engine requests, demultiplexing, wait, remove, every database write), only
 * the engine's own work is gone, so leaks in Berth show up in minutes. Its /version does not name
 * Docker's "Engine", so Berth takes its longer path there: two hijacked attaches, as on Podman.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';

interface FakeContainer {
  readonly id: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly stdin: Buffer[];
  readonly outputs: Socket[];
  readonly waiters: (() => void)[];
  stdinEnded: boolean;
  started: boolean;
  exitCode: number | null;
}

export interface StandInEngine {
  readonly dockerHost: string;
  /** Containers created so far (a sanity check that the worker really used it). */
  readonly created: () => number;
  /** Containers not removed yet. */
  readonly live: () => number;
  close(): Promise<void>;
}

export async function startStandInEngine(): Promise<StandInEngine> {
  const socketPath = `/tmp/berth-bench-engine-${randomBytes(4).toString('hex')}.sock`;
  const containers = new Map<string, FakeContainer>();
  let created = 0;

  const find = (ref: string): FakeContainer | undefined =>
    containers.get(ref) ?? [...containers.values()].find((c) => c.name === ref || c.id.startsWith(ref));

  const exit = (c: FakeContainer, code: number): void => {
    if (c.exitCode !== null) return;
    c.exitCode = code;
    for (const socket of c.outputs) socket.end();
    for (const wake of c.waiters.splice(0)) wake();
  };
  const maybeRun = (c: FakeContainer): void => {
    if (!c.started || !c.stdinEnded || c.exitCode !== null) return;
    const payload = Buffer.concat(c.stdin);
    const header = Buffer.alloc(8);
    header[0] = 1;
    header.writeUInt32BE(payload.length, 4);
    for (const socket of c.outputs) socket.write(Buffer.concat([header, payload]));
    exit(c, 0);
  };

  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://engine');
      const path = url.pathname.replace(/^\/v[\d.]+\//, '/');
      const send = (status: number, body?: unknown): void => {
        const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
        response.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain' : 'application/json' }).end(text);
      };
      if (path === '/_ping') return send(200, 'OK');
      if (path === '/version') return send(200, { Version: 'stand-in', ApiVersion: '1.41', Components: [{ Name: 'Stand-in Engine', Version: '1' }] });
      if (request.method === 'POST' && path === '/containers/create') {
        const spec = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { Labels?: Record<string, string> };
        const id = randomBytes(32).toString('hex');
        const name = url.searchParams.get('name') ?? id.slice(0, 12);
        containers.set(id, { id, name, labels: spec.Labels ?? {}, stdin: [], outputs: [], waiters: [], stdinEnded: false, started: false, exitCode: null });
        created += 1;
        return send(201, { Id: id, Warnings: [] });
      }
      if (request.method === 'GET' && path === '/containers/json') {
        const wanted = (JSON.parse(url.searchParams.get('filters') ?? '{}') as { label?: string[] }).label ?? [];
        const matches = [...containers.values()].filter((c) => wanted.every((w) => {
          const [key, value] = w.split('=', 2) as [string, string | undefined];
          return value === undefined ? key in c.labels : c.labels[key] === value;
        }));
        return send(200, matches.map((c) => ({ Id: c.id, Names: [`/${c.name}`], Labels: c.labels, State: c.exitCode === null ? 'running' : 'exited' })));
      }
      const match = /^\/containers\/([^/]+)(?:\/(\w+))?$/.exec(path);
      const container = match === null ? undefined : find(decodeURIComponent(match[1]!));
      if (container === undefined) return send(404, { message: 'No such container' });
      const action = match![2];
      if (request.method === 'DELETE' && action === undefined) {
        exit(container, 137);
        containers.delete(container.id);
        return send(204);
      }
      if (request.method === 'GET' && action === 'json') {
        return send(200, { Id: container.id, Name: `/${container.name}`, State: { Running: container.started && container.exitCode === null, ExitCode: container.exitCode ?? 0, OOMKilled: false } });
      }
      if (request.method === 'POST' && action === 'start') {
        container.started = true;
        if (!container.outputs.length && !container.stdin.length) setImmediate(() => maybeRun(container));
        maybeRun(container);
        return send(204);
      }
      if (request.method === 'POST' && action === 'kill') {
        exit(container, 137);
        return send(204);
      }
      if (request.method === 'POST' && action === 'wait') {
        const answer = (): void => send(200, { StatusCode: container.exitCode ?? 0 });
        if (container.exitCode !== null) return answer();
        container.waiters.push(answer);
        return;
      }
      return send(404, { message: `stand-in engine: no route ${request.method} ${path}` });
    });
  });

  server.on('upgrade', (request: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(request.url ?? '/', 'http://engine');
    const id = /^(?:\/v[\d.]+)?\/containers\/([^/]+)\/attach$/.exec(url.pathname)?.[1];
    const container = id === undefined ? undefined : find(decodeURIComponent(id));
    socket.on('error', () => undefined);
    if (container === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    const flag = (name: string): boolean => ['1', 'true'].includes(url.searchParams.get(name) ?? '');
    if (flag('stdout') || flag('stderr')) container.outputs.push(socket);
    if (flag('stdin')) {
      if (head.length > 0) container.stdin.push(Buffer.from(head));
      socket.on('data', (chunk: Buffer) => container.stdin.push(chunk));
      socket.on('end', () => {
        container.stdinEnded = true;
        if (!container.outputs.includes(socket)) socket.end();
        maybeRun(container);
      });
    } else {
      socket.resume();
    }
  });

  await rm(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve));
  return {
    dockerHost: `unix://${socketPath}`,
    created: () => created,
    live: () => containers.size,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}
