// GET /api/coordinators (issue 15): the mesh's coordinators as their records in Redis say.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpError } from '../http/errors.js';
import { bearer, unauthorized } from '../http/access.js';
import type { Coordinator } from '../coordinator.js';

/** GET /api/coordinators: the coordinators of the mesh with their nodes, jobs and load (read with the driver or viewer token). */
export function registerMeshApi(app: FastifyInstance, c: Coordinator): void {
  const auth = async (req: FastifyRequest, _reply: FastifyReply) => {
    const token = bearer(req.headers.authorization);
    if (!c.tokens.driverOk(token) && !c.tokens.viewerOk(token)) throw unauthorized(token);
  };
  app.get('/api/coordinators', { onRequest: auth }, async () => {
    if (!c.mesh) throw httpError('NOT_FOUND', 'this coordinator is not part of a mesh (start it with --redis)');
    return c.mesh.list();
  });
}
