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
import { AppError } from '../errors.ts';

/** How long a client refused for load is told to wait. */
const RETRY_AFTER_SECONDS = 5;

/**
 * The responses one process holds at once, bounded: each holds a socket and a subscription, so
 * without a bound one client could hold them all.
 */
export interface HeldResponses {
  /** Holds `reply`, or throws 503 TOO_MANY_HELD (with Retry-After) when the bound is reached. */
  hold(reply: FastifyReply): void;
  /** Holds `reply` if the bound allows: for a preference (Prefer: wait) that may go unmet. */
  tryHold(reply: FastifyReply): boolean;
  readonly count: number;
}

export function createHeldResponses(max: number): HeldResponses {
  const held = new WeakSet<object>();
  let count = 0;

  function tryHold(reply: FastifyReply): boolean {
    const response = reply.raw;
    if (held.has(response)) return true;
    if (count >= max) return false;
    held.add(response);
    count += 1;
    response.once('close', () => { count -= 1; });
    // Node destroys a timed-out socket only when nobody listens for 'timeout' on the request,
    // the response or the server; listening here makes the decision ours for this response only
    // (after it ends, the socket's keep-alive timeout is Node's again).
    response.on('timeout', (socket: Socket) => {
      if (socket.writableLength > 0) socket.destroy();
    });
    return true;
  }

  return {
    tryHold,
    hold(reply) {
      if (tryHold(reply)) return;
      throw new AppError('TOO_MANY_HELD', `this process already holds ${max} waiting or following requests (BERTH_HELD_LIMIT); ` +
        'try again shortly, or ask without wait/follow', { retryAfterSeconds: RETRY_AFTER_SECONDS });
    },
    get count() { return count; },
  };
}
