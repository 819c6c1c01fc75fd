/**
 * Raw access to the container engine's HTTP API: where it listens (parsed from a DOCKER_HOST-style
 * string; the parsing is pure and reads no environment, the entry point passes DOCKER_HOST in), a
 * plain request, and the hijacked attach stream. Knows nothing about containers' lifecycles.
 *
 * Supported: `unix:///absolute/path` and `tcp://host[:port]` (plain HTTP). TLS (`https://`,
 * DOCKER_TLS_VERIFY) and `ssh://` are refused with an error rather than silently downgraded, since
 * talking plain HTTP to a TLS endpoint, or guessing at ssh, would fail later in a confusing way.
 */
import http from 'node:http';
import type { Socket } from 'node:net';

export type EngineAddress =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** The engine's default when DOCKER_HOST is not set, as in the Docker CLI. */
export const DEFAULT_SOCKET_PATH = '/var/run/docker.sock';

/** The Docker CLI's default for `tcp://host` without a port (unencrypted API). */
const DEFAULT_TCP_PORT = 2375;

export function resolveEngineAddress(dockerHost: string | undefined): EngineAddress {
  // The Docker CLI treats an empty DOCKER_HOST like an unset one; do the same so `DOCKER_HOST=` in
  // an env file does not turn into a confusing parse error.
  if (dockerHost === undefined || dockerHost.trim() === '') {
    return { kind: 'unix', socketPath: DEFAULT_SOCKET_PATH };
  }
  const value = dockerHost.trim();
  if (value.startsWith('unix://')) return parseUnix(value);
  if (value.startsWith('tcp://')) return parseTcp(value);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1];
  throw new Error(
    scheme === undefined
      ? `DOCKER_HOST ${JSON.stringify(value)} has no scheme; expected unix:///path or tcp://host:port`
      : `DOCKER_HOST scheme "${scheme}://" is not supported; use unix:///path or tcp://host:port (plain HTTP, no TLS)`,
  );
}

/** The `node:http` request options that reach the address (spread into a request's options). */
export function httpTarget(address: EngineAddress): { socketPath: string } | { host: string; port: number } {
  return address.kind === 'unix'
    ? { socketPath: address.socketPath }
    : { host: address.host, port: address.port };
}

function parseUnix(value: string): EngineAddress {
  const socketPath = value.slice('unix://'.length);
  if (!socketPath.startsWith('/')) {
    throw new Error(`DOCKER_HOST ${JSON.stringify(value)} must name an absolute socket path, e.g. unix:///var/run/docker.sock`);
  }
  return { kind: 'unix', socketPath };
}

function parseTcp(value: string): EngineAddress {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new Error(`DOCKER_HOST ${JSON.stringify(value)} is not a valid tcp://host:port address`, { cause });
  }
  if (url.hostname === '') throw new Error(`DOCKER_HOST ${JSON.stringify(value)} has no host`);
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.username !== '') {
    throw new Error(`DOCKER_HOST ${JSON.stringify(value)} must be only tcp://host:port, without a path, query or user`);
  }
  // URL keeps IPv6 literals bracketed; node:http wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? DEFAULT_TCP_PORT : Number(url.port);
  return { kind: 'tcp', host, port };
}

/** The engine answered with an unexpected HTTP status. */
export class EngineHttpError extends Error {
  readonly statusCode: number;
  constructor(statusCode: number, message: string) {
    super(message);
    this.name = 'EngineHttpError';
    this.statusCode = statusCode;
  }
}

/** One request with the whole response body buffered; for small answers only. Aborting `signal` abandons it. */
export function engineRequest(
  address: EngineAddress,
  method: string,
  path: string,
  body?: { readonly contentType: string; readonly data: Buffer },
  signal?: AbortSignal,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders =
      body === undefined ? {} : { 'Content-Type': body.contentType, 'Content-Length': body.data.length };
    const request = http.request({ ...httpTarget(address), method, path, headers, ...(signal === undefined ? {} : { signal }) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(body?.data);
  });
}

/**
 * Opens `POST /containers/{id}/attach` and returns the hijacked connection, carrying the
 * multiplexed output and/or accepting stdin. Deliberately sends no request body: dockerode's attach
 * sends its options as a body, which the engine may deliver to the program as stdin (dockerode
 * #742/#777). `streams` is the rest of the query, e.g. `stdin=true&stdout=false&stderr=false`.
 * Aborting `signal` before the upgrade abandons the request; after it, the socket is the caller's.
 */
export function attachStream(address: EngineAddress, containerId: string, streams: string, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const request = http.request({
      ...httpTarget(address),
      method: 'POST',
      path: `/containers/${encodeURIComponent(containerId)}/attach?stream=true&${streams}`,
      headers: { Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    const onAbort = (): void => void request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('attach aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => signal?.removeEventListener('abort', onAbort);
    request.on('upgrade', (_response, socket: Socket, head: Buffer) => {
      settle();
      // Bytes that arrived with the 101 response belong to the stream; put them back in front.
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        settle();
        const status = response.statusCode ?? 0;
        const text = Buffer.concat(chunks).toString().trim();
        reject(new EngineHttpError(status, `attach to ${containerId} was refused: HTTP ${status} ${text}`));
      });
    });
    request.on('error', (error) => {
      settle();
      reject(error);
    });
    if (signal?.aborted === true) onAbort();
    else request.end();
  });
}
