// Who may do what over HTTP and the dashboard socket (issue 7). Two roles:
// `driver` (the driver token: read, submit and cancel jobs) and `viewer`
// (an optional viewer token: read only). Either opens the dashboard.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Coordinator } from '../coordinator.js';
import { httpError } from './errors.js';

export type Role = 'driver' | 'viewer';

export interface Access {
  /** The role a bare token grants, or null. */
  roleOf(token: string | undefined): Role | null;
  /** Fastify onRequest hooks: 401 without a good token, 403 with a viewer token on a driver route. */
  read: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  write: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
}

export function bearer(header: string | undefined): string | undefined {
  return /^Bearer (.+)$/.exec(header ?? '')?.[1];
}

export function createAccess(c: Coordinator, viewerToken = ''): Access {
  // Both compared in constant time by c.tokens (coordinator/auth), which also follows rotations.
  if (viewerToken && !c.tokens.required('viewer')) c.tokens.set('viewer', viewerToken);
  const roleOf = (token: string | undefined): Role | null => {
    if (c.tokens.driverOk(token)) return 'driver';
    if (c.tokens.viewerOk(token)) return 'viewer';
    return null;
  };
  const hook = (need: Role) => async (req: FastifyRequest, _reply: FastifyReply) => {
    const token = bearer(req.headers.authorization);
    const role = roleOf(token);
    if (!role) throw unauthorized(token);
    if (need === 'driver' && role !== 'driver') throw httpError('FORBIDDEN', 'a viewer token may read but not submit or cancel: use the driver token');
  };
  return { roleOf, read: hook('viewer'), write: hook('driver') };
}

/** 401, saying whether the token was missing or wrong and where the right one is. */
export function unauthorized(token: string | undefined) {
  return httpError(
    'UNAUTHORIZED',
    token
      ? 'the token is wrong: send the driver token the coordinator printed at start (the token file in its data folder: .tabmesh/token unless --data says otherwise), or a viewer token, as Authorization: Bearer <token>'
      : 'send Authorization: Bearer <token> with the driver token the coordinator printed at start (the token file in its data folder: .tabmesh/token unless --data says otherwise)',
  );
}
