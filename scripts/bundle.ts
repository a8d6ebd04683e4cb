// The CLI as one ES module a process (`npm run build`, after tsc): dist/bundle/cli/index.js, which bin/tabmesh.js
// loads when it is there and up to date. A `tabmesh coordinator` or `tabmesh node` process spent ~1 CPU-second
// resolving and loading dist/'s ~255 modules and node_modules' CommonJS before doing anything (session 30), and the
// tests start hundreds of them. The files started by path (worker threads, the job process) are bundled as their own
// entries, next to the CLI as in dist/, so each of those threads and processes loads one file too.
//
// Each bundled module sees `import.meta.url` as its place in dist/bundle/ (dist/bundle/edge/executors.js for
// edge/executors.ts), so what it finds by relative path (`./worker.js`, the package root) is found as from dist/.
// Native modules and what finds its own files at run time stay outside, loaded from node_modules as before.
import { build, type Plugin } from 'esbuild';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'dist/bundle');

/** Started by path (new Worker, fork): edge/worker.ts, coordinator/jobs/worker.ts, coordinator/gcs/*-worker.ts. */
function workerEntries(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (/(^|-)worker\.ts$/.test(e.name)) found.push(path);
    }
  };
  for (const dir of ['edge', 'coordinator']) walk(dir);
  return found.sort();
}

const external = [
  // Native addons, loaded through their own loaders.
  'better-sqlite3',
  '@roamhq/wrtc',
  'bufferutil',
  'utf-8-validate',
  'msgpackr-extract',
  // Runs its own binary, found from its package folder (edge/bundler.ts: runtime envs).
  'esbuild',
];

/** `import.meta.url` of a source module: the URL its built file has under dist/bundle/, from the bundle file it is in. */
function metaUrlOf(outfile: string): Plugin {
  return {
    name: 'tabmesh-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes('import.meta.url')) return undefined;
        const built = join(OUT, relative(ROOT, args.path)).replace(/\.ts$/, '.js');
        const rel = relative(dirname(outfile), built).split(sep).join('/');
        return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

/**
 * `split`: the modules the entry imports on demand (cli/index.ts: the coordinator, the edge node) go to chunks beside
 * it, so that a `tabmesh node` process does not parse the coordinator's Fastify, Ajv and ioredis, nor `--help` either.
 */
async function bundle(entry: string, split = false): Promise<void> {
  const outfile = join(OUT, entry.replace(/\.ts$/, '.js'));
  await build({
    entryPoints: [join(ROOT, entry)],
    ...(split ? { outdir: dirname(outfile), splitting: true, chunkNames: '[name]-[hash]' } : { outfile }),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    // Errors take their names from their classes (`new.target.name`), and a task's error travels by name: a class
    // renamed to avoid a clash in the one scope (TaskError2) must still be called TaskError.
    keepNames: true,
    // Whitespace and comments out, identifiers kept (stack traces keep their function names): a third less text
    // for every process to decode and parse. Licences of bundled packages go to a file beside it.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'linked',
    charset: 'ascii',
    sourcemap: 'linked',
    sourcesContent: false,
    // CommonJS packages in an ES module: their `require` of Node's built-ins and of the externals above.
    banner: { js: "import { createRequire as __tabmeshRequire } from 'node:module'; const require = __tabmeshRequire(import.meta.url);" },
    plugins: [metaUrlOf(outfile)],
    logLevel: 'warning',
  });
}

rmSync(OUT, { recursive: true, force: true });
await Promise.all([bundle('cli/index.ts', true), ...workerEntries().map((e) => bundle(e))]);
