// The collections the coordinator forces on its V8 heap (cli/heap.ts decides when), and what it reads of
// the heap to decide (issue 14).
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { constants, PerformanceObserver, type NodeGCPerformanceDetail } from 'node:perf_hooks';

/** The young generation is back to its start size when its semi-spaces take at most this much (V8 starts at 1 MiB). */
const YOUNG_SETTLED_BYTES = 2 << 20;

/**
 * What a full GC will have to mark, as far as this process can tell without one: the heap's used size just
 * after the last mark-compact (V8's own or a compaction's), or now when smaller (or when none ran yet). The
 * used size now would count a burst's garbage: bench:tasks' coordinator holds 48-66 MB used after 100,000
 * freed tasks, of which a full GC keeps ~20 MB (its first GC of a series: 1-25 ms), and at 1.15 ms/MB of it
 * no series ran (RSS 156 MB instead of < 100, session 16). The cost of a full GC follows what it marks.
 * `majors`: the mark-compacts seen so far (V8's own included), counted when that size is read.
 */
export function liveHeapBytes(): (() => number) & { stop: () => void; majors: () => number } {
  let afterMajor = 0;
  let majors = 0;
  const used = () => getHeapStatistics().used_heap_size;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if ((e as unknown as { detail?: NodeGCPerformanceDetail }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        afterMajor = used();
        majors++;
      }
  });
  obs.observe({ entryTypes: ['gc'] });
  return Object.assign(() => (afterMajor > 0 ? Math.min(afterMajor, used()) : used()), { stop: () => obs.disconnect(), majors: () => majors });
}

/**
 * Starts V8's incremental mark-compact now, the one V8 starts by itself when the old generation nears its
 * limit: marking on V8's helper threads and in steps of a millisecond or so between the loop's callbacks,
 * then one short atomic pause that ends it (a forced full GC marks the whole heap in one pause: 84-127 ms
 * at 10,000 nodes). V8 checks its marking limit after each scavenge; with `--incremental-marking-hard-trigger=1`
 * the limit is "1% of the way from what the last mark-compact kept to the old generation's limit", so one
 * scavenge forced with the flag set starts marking when the old generation grew since (a burst's promoted
 * garbage) and does nothing otherwise. The flag is set for that scavenge alone.
 * `again`: started whether the old generation grew or not (`--stress-incremental-marking` for that scavenge),
 * for a second marking right after one (cli/heap.ts).
 */
export function incrementalMarking(): (again?: boolean) => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
  return (again = false) => {
    const flag = again ? '--stress-incremental-marking' : '--incremental-marking-hard-trigger=1';
    setFlagsFromString(flag);
    try {
      gc({ type: 'minor' });
    } finally {
      setFlagsFromString(again ? '--no-stress-incremental-marking' : '--incremental-marking-hard-trigger=0');
    }
  };
}

/** What the old generation holds in pages but not in objects (bytes): committed less used. */
export function oldSpare(): number {
  const old = getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  return old ? old.space_size - old.space_used_size : 0;
}

/** The process's resident set (bytes); 0 when it cannot be read (no file descriptor free: coordinator/limits/open-files.ts). */
export function residentBytes(): number {
  try {
    return process.memoryUsage.rss();
  } catch {
    return 0;
  }
}

/** V8's young generation (new space) is back to its start size. */
export function youngSettled(): boolean {
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return young !== undefined && young.space_size <= YOUNG_SETTLED_BYTES;
}

/** V8's scavenge, forced (`--expose-gc`'s gc with `type: 'minor'`). */
export function minorGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (o: { type: 'minor' }) => void;
  return () => gc({ type: 'minor' });
}

/**
 * What a forced full GC moves: `false`, what V8 picks for a GC that must be short (pages at least ~60-70%
 * free, at most 4 MB of objects); `'fragmented'`, what V8 picks when it saves memory (`--optimize-for-size`:
 * pages at least 20% free, at most 6 MB of objects); `true`, every live object (`--compact-on-every-full-gc`).
 */
export type GcMove = boolean | 'fragmented';

/**
 * V8's full GC, reached through `--expose-gc` set at run time: the flag only
 * makes `gc` a global of contexts created after it, so one new context provides it.
 * The move flag is set for that one GC (V8 reads both when a mark-compact starts). After 100,000 freed
 * tasks the old generation kept 23-25 MB of pages for 19 MB of objects (bench:tasks, sessions 13 and 25):
 * compacted (`true`), ~20 MB; `'fragmented'`, 19.5-20.3 MB for a pause of ~1/3 of it (session 25).
 */
export function fullGc(): (move: GcMove) => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return (move) => {
    if (move === false) return gc();
    const flag = move === true ? 'compact-on-every-full-gc' : 'optimize-for-size';
    setFlagsFromString(`--${flag}`);
    try {
      gc();
    } finally {
      setFlagsFromString(`--no-${flag}`);
    }
  };
}
