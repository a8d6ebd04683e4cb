// Whether npm test's checks (scripts/checks.sh: the type-check, eslint, prettier) already passed on this exact tree
// (session 37). CI (.ci/run) runs them while better-sqlite3 compiles, on the core the compile leaves idle, and writes
// this stamp when they pass; `npm test` then skips them if nothing they read changed, and runs them otherwise. Only
// `checks.sh --write-stamp` writes it (CI does): a developer's `npm test` never writes one, so it always checks.
//
// What the checks read: every file of the package but the folders git ignores (dist/, node_modules/, test-results/,
// tmp/, .tabmesh/, .venv-ray/), .git and *.log files; plus node_modules/.package-lock.json (what is installed: the
// type declarations and the tools' versions) and Node's version. Contents, not times, as scripts/build-stamp.ts.
//
//   node dist/scripts/checks-stamp.js check          exit 0: passed on this tree (prints so); 1: run them (prints why)
//   node dist/scripts/checks-stamp.js digest         the tree's digest, taken before the checks start
//   node dist/scripts/checks-stamp.js write <digest> after they passed: that digest into dist/.checks-stamp
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { filesDigest } from './build-stamp.js';

/** Top-level folders no check reads (eslint's ignores, prettier's and .gitignore's). */
const NOT_CHECKED = new Set(['dist', 'node_modules', 'test-results', 'tmp', '.tabmesh', '.venv-ray', '.git']);
export const STAMP = 'dist/.checks-stamp';
const INSTALLED = 'node_modules/.package-lock.json';

/** The files the checks read under `root`, relative, sorted. */
export function checkedFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.name === '.git' || (!rel && NOT_CHECKED.has(e.name))) continue;
      if (e.isDirectory()) walk(path);
      else if (e.isFile() && !e.name.endsWith('.log')) found.push(path);
    }
  };
  walk('');
  if (existsSync(join(root, INSTALLED))) found.push(INSTALLED);
  return found.sort();
}

export function checkedDigest(root: string): string {
  return filesDigest(root, checkedFiles(root));
}

/** Why the checks must run on `root`, or null when they passed on it as it is. */
export function uncheckedBecause(root: string): string | null {
  if (!existsSync(join(root, STAMP))) return `no ${STAMP}`;
  if (readFileSync(join(root, STAMP), 'utf8').trim() !== checkedDigest(root)) return 'the tree changed since they passed';
  return null;
}

export function main(args: string[], root = join(dirname(fileURLToPath(import.meta.url)), '../..')): number {
  if (args[0] === 'digest') {
    console.log(checkedDigest(root));
    return 0;
  }
  // The digest taken before the checks ran: a file edited while they ran then differs from it, and they run again.
  if (args[0] === 'write' && args.length === 2 && /^[0-9a-f]{64}$/.test(args[1])) {
    writeFileSync(join(root, STAMP), args[1] + '\n');
    return 0;
  }
  if (args[0] === 'check') {
    const why = uncheckedBecause(root);
    console.log(why ? `checks: running them (${why})` : `checks: passed on this exact tree (${STAMP}): not running them again`);
    return why ? 1 : 0;
  }
  console.error('usage: node dist/scripts/checks-stamp.js check | digest | write <digest taken before the checks ran>');
  return 2;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
