// HTTP hardening (issue 8): every route is rate-limited per address
// (@fastify/rate-limit, 429 RATE_LIMITED) but the health check and the
// WebSocket upgrade (/ws: its own limits are per connection and on the rate
// of new connections, coordinator/limits; issue 14), and every answer carries the
// security headers a route did not set itself: no-sniff, no referrer, and
// for anything without its own CSP (the API's JSON, errors) a CSP that
// allows nothing and may not be framed. Pages set their own CSP
// (http/static.ts): the embed badge's frame-ancestors * is left alone.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';

export interface HttpLimits {
  /** Requests per address per window. */
  max: number;
  windowMs: number;
}

/** Generous: thousands of volunteers' tabs behind one NAT address each load the page and its scripts. */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { max: 30_000, windowMs: 60_000 };

/** Requests the HTTP rate limit does not count: the health check and WebSocket upgrades. */
export function unmetered(url: string): boolean {
  return url === '/healthz' || url === '/ws' || url.startsWith('/ws?');
}

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export async function registerHardening(app: FastifyInstance, limits: Partial<HttpLimits> | false = {}): Promise<void> {
  if (limits !== false) {
    const L = { ...DEFAULT_HTTP_LIMITS, ...limits };
    await app.register(rateLimit, {
      global: true,
      max: L.max,
      timeWindow: L.windowMs,
      // The health check is for load balancers and monitors; /ws upgrades have limits of their own.
      allowList: (req) => unmetered(req.url),
      errorResponseBuilder: (_req, ctx) => ({
        statusCode: 429,
        error: 'RATE_LIMITED',
        message: `more than ${ctx.max} requests in ${ctx.after} from this address; try again later`,
      }),
    });
  }
  app.addHook('onSend', async (req, reply, payload) => {
    if (!reply.hasHeader('x-content-type-options')) void reply.header('x-content-type-options', 'nosniff');
    if (!reply.hasHeader('referrer-policy')) void reply.header('referrer-policy', 'no-referrer');
    // Scripts are left alone: a worker script's CSP would bind the worker.
    const type = String(reply.getHeader('content-type') ?? '');
    if (!reply.hasHeader('content-security-policy') && !type.includes('javascript')) {
      void reply.header('content-security-policy', API_CSP);
      if (!reply.hasHeader('x-frame-options')) void reply.header('x-frame-options', 'DENY');
    }
    if (req.url.startsWith('/api/') && !reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });
}
