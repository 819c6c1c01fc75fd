/**
 * Request ids: every request log line carries `reqId` (Fastify's request logger), and the answer
 * carries it as `x-request-id`, so a client can quote the id of a request it needs looked up. A
 * random UUID rather than Fastify's per-process counter ("req-1"), which every replica and every
 * restart would repeat. A client's own x-request-id is not taken: it would be unchecked text in the log.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export const genReqId = (): string => randomUUID();

export function registerRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
}
