// vitest's queue, longest file first (session 37). Each group's files wait in one FIFO queue that two workers take
// from; vitest's own sequencer orders a project's files by their last duration in its results cache, which a clean
// clone (CI) has not, and then by size: a 60 s file of small size could start last and run alone while the other
// worker idled. Here a project's files are ordered by the committed table of measured durations (scripts/
// file-durations.ts), longest first: the greedy longest-processing-time order, which ends a group within the
// shortest files' time on both workers. Projects keep vitest's order (group, then name) and stay contiguous: a
// `shared` worker keeps its modules only while the next file in the queue is of its own project.
import { statSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { TABLE, readDurations, type Durations } from '../../scripts/file-durations.js';

export interface Queued {
  /** Where vitest's sequencer puts the file's project: its group first, then its name. */
  groupOrder: number;
  project: string;
  /** Relative to the package, forward slashes: the table's key. */
  path: string;
  bytes: number;
}

/**
 * The order to queue `files` in, and the files the table does not know. Unknown files go first in their project, the
 * largest first (vitest's own rule for files it has no time for): a new file may be long, and at the start it cannot
 * leave a worker idle at the end.
 */
export function orderFiles<T extends Queued>(files: readonly T[], durations: Durations, bySize: ReadonlySet<string> = new Set()): { order: T[]; unknown: T[] } {
  const unknown = files.filter((f) => !bySize.has(f.project) && !(f.path in durations));
  const rank = (f: T) => (bySize.has(f.project) || !(f.path in durations) ? 1 : 0);
  const order = [...files].sort(
    (a, b) =>
      a.groupOrder - b.groupOrder ||
      (a.project < b.project ? -1 : a.project > b.project ? 1 : 0) ||
      rank(b) - rank(a) ||
      (rank(a) === 1 ? b.bytes - a.bytes : (durations[b.path] ?? 0) - (durations[a.path] ?? 0)) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
  return { order, unknown };
}

/**
 * `TABMESH_FILE_ORDER` (to hunt files that pass only after another, session 38): `reverse`, or `shuffle:<seed>` (a
 * seeded order, printed, so a failing order can be run again), within each project; projects stay contiguous.
 * vitest's `--sequence.shuffle` shuffles only tests inside files once a sequencer is configured.
 */
export function reorder<T extends { project: string }>(order: readonly T[], how: string | undefined): T[] {
  if (!how) return [...order];
  const m = /^(reverse|shuffle:(\d{1,9}))$/.exec(how);
  if (!m) throw new Error(`TABMESH_FILE_ORDER must be reverse or shuffle:<seed> (up to 9 digits), not ${JSON.stringify(how)}`);
  const out: T[] = [];
  for (let a = 0; a < order.length;) {
    let b = a;
    while (b < order.length && order[b].project === order[a].project) b++;
    const run = order.slice(a, b);
    if (m[2] === undefined) run.reverse();
    else shuffle(run, Number(m[2]) + a);
    out.push(...run);
    a = b;
  }
  return out;
}

/** Fisher-Yates with mulberry32 from `seed`: the same seed, the same order. */
function shuffle<T>(xs: T[], seed: number): void {
  let st = seed >>> 0;
  const next = (): number => {
    st = (st + 0x6d2b79f5) >>> 0;
    let t = st;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
}

/**
 * Projects left in vitest's own order (largest first). `unit`'s files share a worker and a few read process-wide state
 * that earlier files change (hash.test's portable hasher, bytes.test's page faults): they passed in that order for
 * sessions, failed in 2 of 4 runs longest first, and the group's tail is 0 s either way (session 37).
 */
const BY_SIZE = new Set(['unit']);

export default class DurationSequencer extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root;
    const durations = readDurations(root);
    // Type-level files (test/types, when vitest type-checks them) are checked in a group of their own: no time to order.
    const typeLevel = files.filter((spec) => spec.pool === 'typescript');
    const queued = files
      .filter((spec) => spec.pool !== 'typescript')
      .map((spec) => ({
        spec,
        groupOrder: spec.project.config.sequence.groupOrder,
        project: spec.project.name,
        path: relative(root, spec.moduleId).split('\\').join('/'),
        bytes: statSync(spec.moduleId).size,
      }));
    const how = process.env.TABMESH_FILE_ORDER;
    const { order: measured, unknown } = orderFiles(queued, durations, BY_SIZE);
    const order = reorder(measured, how);
    if (how) this.ctx.logger.log(`sequencer: files in ${how} order within each project (TABMESH_FILE_ORDER)`);
    if (unknown.length > 0) {
      const names = unknown.slice(0, 5).map((f) => f.path);
      this.ctx.logger.log(
        `sequencer: ${unknown.length} test file(s) not in ${TABLE} run first in their project, largest first ` +
          `(${names.join(', ')}${unknown.length > names.length ? ', …' : ''}); refresh it: node dist/scripts/file-durations.js <JSON report>`,
      );
    }
    return Promise.resolve([...order.map((f) => f.spec), ...typeLevel]);
  }
}
