/**
 * One HTTP server on 127.0.0.1 per test file, under which each callback receiver is a path. The
 * fixtures' callbacks endpoints cover http://127.0.0.1:${BERTH_TEST_RECEIVER_PORT}/: callbacks
 * are signed only for URLs under an endpoint, so a test's receivers share the port the runners
 * file names, and set it before Berth reads the file (receiverEnv).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ReceiverHost {
  readonly origin: string;
  /** For spawnBerth and loadFixtureRunners: the port the fixtures' endpoints name. */
  readonly env: { readonly BERTH_TEST_RECEIVER_PORT: string };
  /** Routes requests under `prefix` (a path) to `handler`; the function returned removes the route and cuts its connections. */
  route(prefix: string, handler: http.RequestListener): () => void;
  close(): Promise<void>;
}

export async function startReceiverHost(): Promise<ReceiverHost> {
  const routes = new Map<string, { handler: http.RequestListener; sockets: Set<Socket> }>();
  const server = http.createServer((request, response) => {
    const path = request.url ?? '/';
    const prefix = [...routes.keys()].filter((p) => path.startsWith(p)).sort((a, b) => b.length - a.length)[0];
    const route = prefix === undefined ? undefined : routes.get(prefix);
    if (route === undefined) {
      response.writeHead(404).end('no receiver here');
      return;
    }
    route.sockets.add(request.socket);
    route.handler(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  process.env['BERTH_TEST_RECEIVER_PORT'] = String(port);
  return {
    origin: `http://127.0.0.1:${port}`,
    env: { BERTH_TEST_RECEIVER_PORT: String(port) },
    route(prefix, handler) {
      const entry = { handler, sockets: new Set<Socket>() };
      routes.set(prefix, entry);
      return () => {
        if (routes.get(prefix) === entry) routes.delete(prefix);
        for (const socket of entry.sockets) socket.destroy();
      };
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
