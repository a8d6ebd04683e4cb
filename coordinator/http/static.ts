// Static files: the browser build of the driver API and the pages in public/.
// The volunteer page and dashboard (issues 3 and 7) are served from here too.
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

/** The package root, whether running from dist/ or from sources. */
function packageRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = join(dir, '..');
  }
  throw new Error('package root not found');
}

export function registerStatic(app: FastifyInstance): void {
  const root = packageRoot();
  const serve = (base: string) => async (req: { params: unknown }, reply: import('fastify').FastifyReply) => {
    const rel = normalize((req.params as { '*': string })['*'] || 'index.html').replace(/^(\.\.[/\\])+/, '');
    const file = join(root, base, rel);
    if (!file.startsWith(join(root, base))) return reply.code(404).send();
    try {
      const body = await readFile(file);
      return reply
        .header('content-type', TYPES[extname(file)] ?? 'application/octet-stream')
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'no-cache')
        .send(body);
    } catch {
      return reply.code(404).send({ error: 'NOT_FOUND', message: `no such file: ${rel}` });
    }
  };
  app.get('/lib/*', serve('dist/browser'));
  app.get('/*', serve('public'));
}
