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
  app.get('/api/nodes', { onRequest: auth }, async () =>
    [...c.gcs.nodes.values()].map((n) => ({
      id: n.id,
      kind: n.kind,
      name: n.name,
      resources: n.resources,
      inflightTasks: n.inflightTasks,
      load: n.load,
      tasksDone: n.tasksDone,
      joinedAt: n.joinedAt,
      lastSeen: n.lastSeen,
    })),
  );
  app.get('/api/events', { onRequest: auth }, async (req) => {
    const q = req.query as { since?: string; kind?: string };
    const since = Number(q.since ?? 0) || 0;
    return c.gcs.events.filter((e) => e.seq > since && (!q.kind || e.kind === q.kind)).slice(-1000);
  });
}
