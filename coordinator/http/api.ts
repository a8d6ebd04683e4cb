// HTTP API. Every route but /healthz takes `Authorization: Bearer TOKEN`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Coordinator } from '../coordinator.js';
import { bearer, unauthorized } from './access.js';
import { meshViewOf } from '../mesh/mesh-view.js';

export function registerApi(app: FastifyInstance, c: Coordinator): void {
  const auth = async (req: FastifyRequest, _reply: FastifyReply) => {
    // Counters are state: the viewer token reads them too (constant-time checks in c.tokens).
    const token = bearer(req.headers.authorization);
    if (!c.tokens.driverOk(token) && !c.tokens.viewerOk(token)) throw unauthorized(token);
  };
  app.get('/healthz', async () => ({ ok: true }));
  // In a mesh (issue 15), also the whole mesh's counts: coordinators, meshNodes, meshCpus, meshJobs, meshLoad.
  app.get('/api/stats', { onRequest: auth }, async () => ({ ...c.statsJson(), ...meshViewOf(c)?.totals() }));
  // /api/nodes, /api/events and the rest of the state API: http/state.ts.
}
