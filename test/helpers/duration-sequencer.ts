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
    const { order, unknown } = orderFiles(queued, durations, BY_SIZE);
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
