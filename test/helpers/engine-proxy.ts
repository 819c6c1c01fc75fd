/**
 * A pass-through unix socket in front of a real engine, for tests that need to see or stall what
 * Berth sends: every byte goes to the engine unchanged, and the proxy notes the request line of
 * each HTTP request (up to a connection's upgrade, after which the bytes are a raw stream).
 *
 * freeze() makes it behave like a hung daemon: connections are still accepted (new ones too), but
 * nothing more is read from or passed to either side until thaw(). swallow() makes it lose some
 * requests while answering the rest: one that matches never reaches the engine, and nothing more
 * passes on its connection. Test code only.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EngineProxy {
  /** DOCKER_HOST-style address of the proxy's socket. */
  readonly dockerHost: string;
  /** "METHOD /url" of every request seen so far, in arrival order (API version prefix removed). */
  requests(): string[];
  clearRequests(): void;
  freeze(): void;
  thaw(): void;
  /** Requests whose "METHOD /url" matches from now on are never passed on (nor answered). */
  swallow(match: RegExp): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: net.Socket;
  readonly engine: net.Socket;
  /** A request on it was swallowed: nothing more is passed on. */
  lost: boolean;
}

export async function startEngineProxy(engineSocketPath: string): Promise<EngineProxy> {
  const socketPath = path.join(os.tmpdir(), `berth-engine-proxy-${randomBytes(6).toString('hex')}.sock`);
  const seen: string[] = [];
  const pairs = new Set<Pair>();
  let frozen = false;
  let swallowed: RegExp | undefined;

  // Half-open both ways: an attach's client half-closes (its stdin's EOF) and reads on.
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const engine = net.connect({ path: engineSocketPath, allowHalfOpen: true });
    const pair: Pair = { client, engine, lost: false };
    pairs.add(pair);
    const parse = requestLineParser((line) => {
      seen.push(line);
      if (swallowed?.test(line) === true) pair.lost = true;
    });
    client.on('data', (chunk: Buffer) => {
      parse(chunk);
      if (!pair.lost) engine.write(chunk);
    });
    engine.on('data', (chunk: Buffer) => client.write(chunk));
    // Half-closes travel on (an attach's EOF is the client's half-close).
    client.on('end', () => engine.end());
    engine.on('end', () => client.end());
    const drop = (): void => {
      pairs.delete(pair);
      client.destroy();
      engine.destroy();
    };
    client.on('close', drop);
    engine.on('close', drop);
    client.on('error', () => undefined);
    engine.on('error', () => undefined);
    if (frozen) pause(pair);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });

  return {
    dockerHost: `unix://${socketPath}`,
    requests: () => [...seen],
    clearRequests: () => void seen.splice(0),
    freeze() {
      frozen = true;
      for (const pair of pairs) pause(pair);
    },
    swallow(match) {
      swallowed = match;
    },
    thaw() {
      frozen = false;
      for (const pair of pairs) {
        pair.client.resume();
        pair.engine.resume();
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.engine.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}

function pause(pair: Pair): void {
  pair.client.pause();
  pair.engine.pause();
}

/**
 * Feeds on the client's bytes and reports each request line. Headers are read to find a body's
 * length (skipped) or an upgrade (after which nothing more is HTTP).
 */
function requestLineParser(onRequest: (line: string) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  let skip = 0;
  let upgraded = false;
  return (chunk) => {
    if (upgraded) return;
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      if (skip > 0) {
        const take = Math.min(skip, buffered.length);
        skip -= take;
        buffered = buffered.subarray(take);
        if (skip > 0) return;
      }
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1').split('\r\n');
      buffered = buffered.subarray(end + 4);
      const [method, url] = (head[0] ?? '').split(' ');
      onRequest(`${method ?? '?'} ${(url ?? '?').replace(/^\/v\d+\.\d+\//, '/')}`);
      const header = (name: string): string | undefined =>
        head.slice(1).find((line) => line.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
      if (header('upgrade') !== undefined) {
        upgraded = true;
        return;
      }
      skip = Number(header('content-length') ?? 0);
    }
  };
}
