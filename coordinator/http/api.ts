// HTTP API. Every route but /healthz takes `Authorization: Bearer TOKEN`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Coordinator } from '../coordinator.js';

export function registerApi(app: FastifyInstance, c: Coordinator): void {
  const auth = async (req: FastifyRequest, reply: FastifyReply) => {
    if (!c.authorized(req.headers.authorization)) {
      await reply.code(401).send({ error: 'UNAUTHORIZED', message: 'send Authorization: Bearer <token>' });
    }
  };
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/api/stats', { onRequest: auth }, async () => c.statsJson());
  // /api/nodes, /api/events and the rest of the state API: http/state.ts.
}
