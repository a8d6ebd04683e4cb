// Static files with their security headers: the volunteer page at /, the
// executor worker script and the embed script and badge (issue 3), the
// browser build under /lib/, and the pages in public/.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpError } from './errors.js';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The executors' sandbox (ARCHITECTURE.md, Security): a worker runs under the
 * CSP of its own script, so task code may eval but not fetch, connect, load
 * scripts or start workers. client-web/node/sandbox.ts removes the same
 * globals so that a task that tries gets a clear error. Runtime envs (issue
 * 16) add only what loading needs: WebAssembly compilation and blob: module
 * URLs (made inside the worker from bytes it was sent; no network source).
 */
export const EXECUTOR_CSP = "default-src 'none'; script-src 'unsafe-eval' 'wasm-unsafe-eval' blob:; connect-src 'none'; worker-src 'none'; base-uri 'none'";

/**
 * A page of ours: its own scripts, styles and socket; the ticker worker is a
 * blob. `ws:`: a volunteer tab dials Node peers' WebSocket links (issue 17,
 * client-web/node/ws-link.ts), at addresses the coordinator's relay handed it;
 * only the page's own scripts run here (task code runs under EXECUTOR_CSP).
 * `wss:`: a full coordinator sends a joining tab on to another coordinator of
 * its mesh (COORDINATOR_FULL next=<url>, shared/coordinator-urls.ts), which may
 * be another host; over TLS that socket is wss://, allowed as ws: is.
 */
function pageCsp(req: FastifyRequest, frameAncestors: string): string {
  const host = req.headers.host ?? '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ws://${host} wss://${host} ws: wss:`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

/**
 * Cross-origin isolation (issue 17, session 12): the volunteer page and the
 * executor worker it starts are served COOP same-origin + COEP require-corp,
 * so the tab is `crossOriginIsolated` and its object bytes live in
 * SharedArrayBuffer that executors read without a copy (shared/shared-memory.ts checks
 * `crossOriginIsolated` at runtime). require-corp, not credentialless: the page
 * loads nothing cross-origin, and every browser with COEP knows require-corp.
 * A dedicated worker under an isolated page must carry a compatible COEP
 * itself, else it fails to load. The embed frame keeps neither: it lives in
 * other sites' pages (not isolated) and works with one copy per executor read.
 */
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** The package root, whether running from dist/ or from sources. */
function packageRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = join(dir, '..');
  }
  throw new Error('package root not found');
}

type Headers = (req: FastifyRequest) => Record<string, string>;

export function registerStatic(app: FastifyInstance): void {
  const root = packageRoot();
  const browser = join(root, 'dist/browser');

  const send = async (reply: FastifyReply, file: string, headers: Record<string, string>) => {
    try {
      const body = await readFile(file);
      return reply
        .headers({
          'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'strict-origin-when-cross-origin',
          'cache-control': 'no-cache',
          ...headers,
        })
        .send(body);
    } catch {
      const hint = file.startsWith(browser) ? ' (run `npm run build`)' : '';
      throw httpError('NOT_FOUND', `not found: ${file.slice(root.length)}${hint}`);
    }
  };
  const file = (path: string, headers: Headers) => (req: FastifyRequest, reply: FastifyReply) => send(reply, path, headers(req));
  /** Files under `base`, by the rest of the URL; never outside it. */
  const folder = (base: string, headers: (req: FastifyRequest, rel: string) => Record<string, string>) => (req: FastifyRequest, reply: FastifyReply) => {
    const rel = normalize((req.params as { '*': string })['*'] || 'index.html').replace(/^(\.\.[/\\])+/, '');
    const path = join(base, rel);
    if (!path.startsWith(base + sep)) throw httpError('NOT_FOUND', 'not found');
    return send(reply, path, headers(req, rel));
  };

  const volunteer = file(join(browser, 'client-web/volunteer/index.html'), (req) => ({
    'content-security-policy': pageCsp(req, "'none'"),
    'x-frame-options': 'DENY',
    ...ISOLATED,
    'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
  }));
  app.get('/', volunteer);
  app.get('/index.html', volunteer);
  app.get(
    '/executor.js',
    file(join(browser, 'executor.js'), () => ({ 'content-security-policy': EXECUTOR_CSP, ...ISOLATED })),
  );
  // Loaded by other sites' pages: any origin may embed the script and the badge.
  app.get(
    '/embed.js',
    file(join(browser, 'embed.js'), () => ({ 'cross-origin-resource-policy': 'cross-origin', 'access-control-allow-origin': '*' })),
  );
  app.get(
    '/embed/frame.html',
    file(join(browser, 'client-web/embed/frame.html'), (req) => ({
      'content-security-policy': pageCsp(req, '*'),
      'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
    })),
  );
  app.get(
    '/lib/*',
    folder(browser, (req, rel) => ({
      ...(rel.startsWith('assets/') ? { 'cache-control': 'public, max-age=31536000, immutable' } : {}),
      ...(rel === 'executor.js' ? { 'content-security-policy': EXECUTOR_CSP, ...ISOLATED } : {}),
      ...(rel.endsWith('.html') ? { 'content-security-policy': pageCsp(req, "'self'") } : {}),
      // The badge's assets load inside other sites' pages.
      'cross-origin-resource-policy': 'cross-origin',
    })),
  );
  const publicDir = join(root, 'public');
  // Browsers ask for /favicon.ico on their own (pages link /favicon.svg).
  app.get(
    '/favicon.ico',
    file(join(publicDir, 'favicon.svg'), () => ({})),
  );
  app.get(
    '/*',
    folder(publicDir, (req, rel): Record<string, string> => (rel.endsWith('.html') ? { 'content-security-policy': pageCsp(req, "'self'") } : {})),
  );
}
