/**
 * A TCP connection to the API that speaks HTTP by hand, for what a client library cannot do on
 * purpose: stop halfway through a request, or sit idle on a keep-alive connection.
 */
import net from 'node:net';

export interface RawConnection {
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with everything received once the server closed the connection; rejects after `ms`. */
  closedWithin(ms: number): Promise<string>;
  write(text: string): void;
  destroy(): void;
}

export function rawConnection(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { text += chunk; });
    // A reset is one of the ways a server closes: it ends the wait like a FIN does.
    socket.on('error', () => undefined);
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        received: () => text,
        async closedWithin(ms) {
          let timer: NodeJS.Timeout | undefined;
          const late = new Promise<never>((_, fail) => {
            timer = setTimeout(() => fail(new Error(`the server kept the connection open for ${ms} ms; received: ${JSON.stringify(text)}`)), ms);
          });
          try {
            await Promise.race([closed, late]);
            return text;
          } finally {
            clearTimeout(timer);
          }
        },
        write: (chunk) => { socket.write(chunk); },
        destroy: () => { socket.destroy(); },
      });
    });
    socket.once('error', reject);
  });
}
