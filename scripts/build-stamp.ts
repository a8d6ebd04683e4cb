// Whether dist/ is the build of the sources as they are (session 32). CI's `npm ci` builds (its `prepare`), and
// `npm test` built everything again right after: tsc's incremental no-op, vite and the bundle, ~10 CPU-s (30-40 s
// at the load CI runs under) for nothing. Now `npm run build` writes a digest of its inputs to dist/ as its last
// step, and `npm test` builds only when they differ from it (or when the build's outputs are missing): after an
// edit, `npm test` builds as before.
//
// The inputs: every file under the package's folder but dist/, node_modules/, test/, docs/, test-results/, tmp/,
// names starting with a dot (.git, .ci) and *.md: sources, pages, public/, configs and the lockfile; plus Node's
// version. A digest of their contents, not their times: a checkout or a copy that keeps or sets times cannot fool
// it. `npm run build` removes the stamp first, so a build that fails half-way leaves none.
//
//   node dist/scripts/build-stamp.js check   exit 0: dist/ is up to date (prints so); 1: build (prints why)
//   node dist/scripts/build-stamp.js write   after a build: the inputs' digest into dist/.build-stamp
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Top-level folders that are not the build's inputs. */
const NOT_INPUTS = new Set(['dist', 'node_modules', 'test', 'docs', 'test-results', 'tmp']);
/** What the build makes: missing, it builds whatever the stamp says. */
export const OUTPUTS = ['dist/cli/index.js', 'dist/bundle/cli/index.js', 'dist/browser/tabmesh.js'];
export const STAMP = 'dist/.build-stamp';

/** The build's input files under `root`, relative, sorted. */
export function inputFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.name.startsWith('.') || (!rel && NOT_INPUTS.has(e.name))) continue;
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && !e.name.endsWith('.md')) found.push(path);
    }
  };
  walk('');
  return found.sort();
}

/** A digest of `files`' names and contents under `root`, and of Node's version (scripts/checks-stamp.ts's too). */
export function filesDigest(root: string, files: readonly string[]): string {
  const h = createHash('sha256').update(`node ${process.version}\0`);
  for (const f of files) {
    const bytes = readFileSync(join(root, f));
    h.update(`${f}\0${bytes.byteLength}\0`).update(bytes);
  }
  return h.digest('hex');
}

/** A digest of the input files' names and contents, and of Node's version. */
export function inputsDigest(root: string): string {
  return filesDigest(root, inputFiles(root));
}

/** Why `root`'s dist/ must be built again, or null when it is the build of the inputs as they are. */
export function staleBecause(root: string): string | null {
  const missing = OUTPUTS.find((f) => !existsSync(join(root, f)));
  if (missing) return `${missing} is missing`;
  if (!existsSync(join(root, STAMP))) return `no ${STAMP} (not built by npm run build, or its build failed)`;
  if (readFileSync(join(root, STAMP), 'utf8').trim() !== inputsDigest(root)) return 'sources changed since the last build';
  return null;
}

export function writeStamp(root: string): void {
  writeFileSync(join(root, STAMP), inputsDigest(root) + '\n');
}

/** The command: `check` or `write`, on the package `root` (default: the one this file was built into). */
export function main(args: string[], root = join(dirname(fileURLToPath(import.meta.url)), '../..')): number {
  if (args[0] === 'write') {
    writeStamp(root);
    return 0;
  }
  if (args[0] === 'check') {
    const why = staleBecause(root);
    console.log(why ? `build: building (${why})` : 'build: dist/ is the build of the sources as they are: not building again');
    return why ? 1 : 0;
  }
  console.error('usage: node dist/scripts/build-stamp.js check|write');
  return 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
