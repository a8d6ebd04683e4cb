// The measured durations of the test files, which test/helpers/duration-sequencer.ts orders vitest's queue by (session
// 37). A clean clone has no vitest results cache, so vitest's own sequencer orders a project's files by size, and a
// long file that starts last keeps one worker busy while the other has nothing left: longest first, the group ends
// with the short files on both workers. The table is committed (test/file-durations.json); a file not in it still
// runs (first, by size, as vitest would) and the sequencer names it, so a stale table shows and costs order, not tests.
//
//   TABMESH_TEST_REPORT=/tmp/run.json npm test       (or vitest's own --reporter=json --outputFile.json=/tmp/run.json)
//   node dist/scripts/file-durations.js /tmp/run.json      the report's files' durations into the table
//
// A file's duration is its tests' span in the report (the first test's start to the last one's end): the JSON
// report has no time for the import or the hooks outside the tests, which are a small share of the long files.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TABLE = 'test/file-durations.json';
const NOTE = 'Seconds a test file ran in a whole-suite run; node dist/scripts/file-durations.js <vitest JSON report> refreshes it (scripts/file-durations.ts).';

export type Durations = Record<string, number>;

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** A test file's path as the table keys it: relative to the package, forward slashes, under test/. */
function checkPath(path: string): string {
  if (!/^test\/[\w./-]+\.test\.ts$/.test(path) || path.split('/').includes('..')) throw new Error(`${TABLE}: not a test file's path: ${JSON.stringify(path)}`);
  return path;
}

/** The table's durations, checked: a hand-edited or merged-badly table fails the run rather than ordering it by garbage. */
export function parseDurations(text: string): Durations {
  const doc: unknown = JSON.parse(text);
  if (!isRecord(doc) || !isRecord(doc.files)) throw new Error(`${TABLE}: expected {"files": {"test/…": seconds}}`);
  const out: Durations = {};
  for (const [path, seconds] of Object.entries(doc.files)) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
      throw new Error(`${TABLE}: ${path}: not a duration in seconds: ${JSON.stringify(seconds)}`);
    out[checkPath(path)] = seconds;
  }
  return out;
}

/** The table under `root`, or an empty one when there is none (every file is then ordered by size). */
export function readDurations(root: string): Durations {
  const file = join(root, TABLE);
  return existsSync(file) ? parseDurations(readFileSync(file, 'utf8')) : {};
}

export function formatDurations(durations: Durations): string {
  const files = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify({ '//': NOTE, files }, null, 2) + '\n';
}

/** Each file's tests' span in a vitest JSON report (`testResults[]` with `name`, `startTime`, `endTime` in ms), in seconds. */
export function reportDurations(report: unknown, root: string): Durations {
  if (!isRecord(report) || !Array.isArray(report.testResults)) throw new Error('not a vitest JSON report (no testResults array)');
  const out: Durations = {};
  for (const r of report.testResults as unknown[]) {
    if (!isRecord(r) || typeof r.name !== 'string' || typeof r.startTime !== 'number' || typeof r.endTime !== 'number') {
      throw new Error('not a vitest JSON report: a testResults entry without name, startTime and endTime');
    }
    const path = (isAbsolute(r.name) ? relative(root, r.name) : r.name).split('\\').join('/');
    // Type-level files (test/types, *.test-d.ts) are checked, not run: nothing to order.
    if (!path.endsWith('.test.ts')) continue;
    const ms = r.endTime - r.startTime;
    if (!Number.isFinite(ms) || ms < 0) throw new Error(`${path}: its report ends before it starts (${r.startTime}..${r.endTime})`);
    out[checkPath(path)] = Math.round(ms / 100) / 10;
  }
  return out;
}

/** The table with the report's files replaced, and files that no longer exist under `root` dropped. */
export function refreshDurations(table: Durations, measured: Durations, root: string): Durations {
  const merged = { ...table, ...measured };
  return Object.fromEntries(Object.entries(merged).filter(([path]) => existsSync(join(root, path))));
}

export function main(args: string[], root = join(dirname(fileURLToPath(import.meta.url)), '../..')): number {
  if (args.length !== 1) {
    console.error('usage: node dist/scripts/file-durations.js <vitest JSON report>');
    return 2;
  }
  const measured = reportDurations(JSON.parse(readFileSync(args[0], 'utf8')), root);
  const before = readDurations(root);
  const after = refreshDurations(before, measured, root);
  writeFileSync(join(root, TABLE), formatDurations(after));
  const dropped = Object.keys(before).filter((f) => !(f in after)).length;
  console.log(`${TABLE}: ${Object.keys(measured).length} files measured, ${Object.keys(after).length} in all, ${dropped} gone dropped`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
