/**
 * Answering before the request body is in (a 413 over the body limit) and then closing the
 * connection loses the answer: the client is still sending, the closed socket resets under it, and
 * it sees EPIPE or ECONNRESET instead of the error. Fastify closes the connection after every
 * body-parsing error, and Node does when the client asked for it. So an answer to a request whose
 * body is unread waits until the rest of the body has been read and thrown away, as nginx's
 * lingering close does — bounded, so that a client cannot make Berth read without end: past
 * DISCARD_MAX_BYTES or DISCARD_MAX_MS the answer goes out at once and the connection is closed.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** The most of an unread body thrown away so that its answer arrives: 4 × the default batch limit. */
export const DISCARD_MAX_BYTES = 64 * 1024 * 1024;
/** The longest the answer waits for it; well within requestTimeout's cut of a trickling client. */
export const DISCARD_MAX_MS = 10_000;

/** Delays every answer to a request whose body is still unread until it is read (see above). */
export function registerUnreadBodyDiscard(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply) => {
    // complete: Node's parser has the whole message. readableEnded: the body was read to its end
    // (and the only sign of it on requests injected in-process, which have no parser).
    if (request.raw.complete || request.raw.readableEnded) return;
    const drained = await discardBody(request.raw, DISCARD_MAX_BYTES, DISCARD_MAX_MS);
    // Past the bounds the rest is not read: the connection cannot carry another request.
    if (!drained) void reply.header('connection', 'close');
  });
}

/** Reads and drops the rest of the body; true once it ended, false at a bound or if the client left. */
export function discardBody(request: IncomingMessage, maxBytes: number, maxMs: number): Promise<boolean> {
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (drained: boolean): void => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('close', onClose);
      resolve(drained);
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) finish(false);
    };
    const onEnd = (): void => finish(true);
    const onClose = (): void => finish(false);
    const timer = setTimeout(() => finish(false), maxMs);
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('close', onClose);
    request.resume();
  });
}
