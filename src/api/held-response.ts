/**
 * Responses Berth holds on purpose: a wait for a task to finish (`?wait=`, `Prefer: wait`) and a
 * followed log (`?follow=true`), which stays quiet while the task writes nothing.
 *
 * The server's inactivity timeout (connectionTimeout in app.ts) destroys a socket on which no byte
 * moved for that long. On a held response the silence is Berth's, not the client's, so it must not
 * cut it — that would reset a connection whose task was already committed. It still cuts a client
 * that stopped reading: a held socket whose answer is waiting in the send buffer when the timeout
 * fires is destroyed. A client still sending its request (slow loris) is never held: holding starts
 * in a handler, after the whole body arrived, and requestTimeout bounds it before that.
 */
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';

const held = new WeakSet<object>();

/** Called by a handler just before it starts to wait or to stream. */
export function holdResponse(reply: FastifyReply): void {
  const response = reply.raw;
  if (held.has(response)) return;
  held.add(response);
  // Node destroys a timed-out socket only when nobody listens for 'timeout' on the request,
  // the response or the server; listening here makes the decision ours for this response only
  // (after it ends, the socket's keep-alive timeout is Node's again).
  response.on('timeout', (socket: Socket) => {
    if (socket.writableLength > 0) socket.destroy();
  });
}
