// The dashboard page (/dashboard) and its live socket (/dashboard/ws). The
// page is code, not data: it is served to anyone, and asks for a token before
// it reads anything (the state API and the socket check it).
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { DashboardHub } from '../dashboard/sync-socket.js';
import { httpError } from './errors.js';

/** The built page (vite: dist/browser/client-web/dashboard/index.html; its assets are under /lib/assets/). */
function pageFile(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist/browser/client-web/dashboard/index.html');
    dir = join(dir, '..');
  }
  return 'dist/browser/client-web/dashboard/index.html';
}

/** The page may load its own scripts, styles and images, and talk to this origin only. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export function registerDashboard(app: FastifyInstance, hub: DashboardHub): void {
  const file = pageFile();
  const page = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    try {
      const body = await readFile(file);
      return reply
        .header('content-type', 'text/html; charset=utf-8')
        .header('content-security-policy', CSP)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer')
        .header('cache-control', 'no-cache')
        .send(body);
    } catch {
      throw httpError('NOT_FOUND', 'the dashboard is not built: run `npm run build`');
    }
  };
  app.get('/dashboard', page);
  app.register(async (scope) => {
    scope.get('/dashboard/ws', { websocket: true }, (socket) => hub.accept(socket));
  });
}
