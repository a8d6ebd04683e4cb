// The CLI coordinator gives its heap back once a burst of tasks is over
// (cli/heap.ts compactAfterBursts): when at least 10,000 tasks ended, none
// ended since the last check and the task table is near empty, a full GC, then
// scavenges COMPACT_GAP_MS apart until the young generation is back (or a bounded
// number), then a last full GC (compacting on a small heap), counted in its stats;
// none while a burst runs, after a small one, or again for the same burst; new
// work stops them. What runs follows the heap's bytes, never a pause's length.
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COMPACT_AFTER_TASKS,
  COMPACT_CHECK_MS,
  COMPACT_COLLECTIONS,
  COMPACT_GAP_MS,
  COMPACT_FRAGMENTED_MB,
  COMPACT_MAX_PAUSE_MS,
  COMPACT_MOVE_MS_PER_MB,
  COMPACT_MS_PER_MB,
  COMPACT_SPARE_BYTES,
  COMPACT_UNMAP_BYTES,
  COMPACT_UNMAP_WAITS,
  compactAfterBursts,
} from '../../cli/heap.js';
import { incrementalMarking, liveHeapBytes, type GcMove } from '../../cli/gc.js';
import { setYoungGrowth } from '../../cli/heap-flags.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { constants, PerformanceObserver, type NodeGCPerformanceDetail } from 'node:perf_hooks';

afterEach(() => {
  vi.useRealTimers();
});

/** A forced full GC by what it moves (cli/gc.ts GcMove). */
const gcName = (move: GcMove) => (move === true ? 'compacting' : move === 'fragmented' ? 'fragmented' : 'full');

describe('compactAfterBursts', () => {
  it('once a burst is over: one full GC, scavenges until the young generation is back, then the compacting one; counted, once per burst', () => {
    vi.useFakeTimers();
    let ended = 500;
    let live = 0;
    const collect = vi.fn();
    const minor = vi.fn();
    let compactAfter = 3; // the young generation is back after this many scavenges
    // A heap small enough for the compacting GC (10 MB).
    const c = compactAfterBursts(
      { ended: () => ended, live: () => live },
      { collect, minor, settled: () => minor.mock.calls.length >= compactAfter, heapBytes: () => 10 << 20, rss: () => 90 << 20 },
    );
    // A burst: tasks end at every check, thousands in flight.
    live = 20_000;
    for (let i = 0; i < 12; i++) {
      ended += 1000;
      vi.advanceTimersByTime(COMPACT_CHECK_MS);
    }
    expect(collect).not.toHaveBeenCalled();
    // Over: nothing in flight, no task ended since the last check.
    live = 3;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(c.stats().heapCompactions).toBe(0);
    vi.advanceTimersByTime(3 * COMPACT_GAP_MS);
    // Counted a gap after its last GC: the RSS did not fall meanwhile.
    expect(c.stats().heapCompactions).toBe(0);
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    // One full GC (the burst's garbage), three scavenges until the young generation is back, then the one that
    // compacts the old generation: two full GCs, not one every step (they cost the whole heap each).
    expect(collect.mock.calls.map((a) => a[0])).toEqual([false, true]);
    expect(minor).toHaveBeenCalledTimes(3);
    expect(c.stats()).toMatchObject({ heapCompactions: 1, heapCompactionGcs: 2, heapCompactionScavenges: 3, heapCompactionsStopped: 0 });
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(minor).toHaveBeenCalledTimes(3);
    // A small burst after it: no collection.
    ended += COMPACT_AFTER_TASKS - 1;
    vi.advanceTimersByTime(3000);
    expect(collect).toHaveBeenCalledTimes(2);
    // One more task makes it a burst's worth; a young generation that never settles gets COMPACT_COLLECTIONS
    // scavenges, then the compacting GC.
    compactAfter = Infinity;
    ended += 1;
    vi.advanceTimersByTime(60_000);
    expect(collect.mock.calls.map((a) => a[0])).toEqual([false, true, false, true]);
    expect(minor).toHaveBeenCalledTimes(3 + COMPACT_COLLECTIONS);
    expect(c.stats()).toMatchObject({ heapCompactions: 2, heapCompactionGcs: 2, heapCompactionScavenges: COMPACT_COLLECTIONS });
    c.stop();
    ended += 2 * COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(30_000);
    expect(collect).toHaveBeenCalledTimes(4);
    expect(minor).toHaveBeenCalledTimes(3 + COMPACT_COLLECTIONS);
  });

  it('counts a coordinator’s start-up as a burst when asked (atStart): its first quiet check runs a series; a heap grown past the bound meanwhile gets no forced full GC at its end', () => {
    vi.useFakeTimers();
    const run = (atStart: boolean, bytesAfterFirst: number) => {
      const gcs: string[] = [];
      let heap = 18 << 20; // a fresh coordinator's heap: a series fits the bound
      const collect = vi.fn((compact: GcMove) => {
        gcs.push(gcName(compact));
        heap = bytesAfterFirst;
      });
      const minor = vi.fn(() => void gcs.push('minor'));
      const c = compactAfterBursts(
        { ended: () => 0, live: () => 0 },
        { collect, minor, settled: () => minor.mock.calls.length >= 2, heapBytes: () => heap, atStart },
      );
      vi.advanceTimersByTime(COMPACT_CHECK_MS + 2 * COMPACT_GAP_MS);
      vi.advanceTimersByTime(60_000);
      const st = c.stats();
      c.stop();
      return { gcs, st };
    };
    // Not asked: no task ended, no series (the young generation start-up grew stays until the first burst).
    expect(run(false, 18 << 20).gcs).toEqual([]);
    // Asked: the series once (a full GC, scavenges until the young generation is back, the last full GC), not again.
    const small = run(true, 10 << 20);
    expect(small.gcs).toEqual(['full', 'minor', 'minor', 'compacting']);
    expect(small.st).toMatchObject({ heapCompactions: 1, heapCompactionsStopped: 0 });
    // Nodes joined during the series: the heap no longer fits the bound, so its scavenges are all it gets.
    const grown = run(true, Math.ceil((COMPACT_MAX_PAUSE_MS / COMPACT_MS_PER_MB) * 2) << 20);
    expect(grown.gcs).toEqual(['full', 'minor', 'minor']);
    expect(grown.st).toMatchObject({ heapCompactions: 0, heapCompactionsStopped: 1, heapCompactionScavenges: 2 });
  });

  it('new work stops the collections; a long task in the table holds them back', () => {
    vi.useFakeTimers();
    let ended = 0;
    let live = 0;
    // Every GC of a series, in order: full, minor (scavenge) or compacting.
    const gcs: string[] = [];
    const collect = vi.fn((compact: GcMove) => void gcs.push(gcName(compact)));
    const minor = vi.fn(() => void gcs.push('minor'));
    const c = compactAfterBursts({ ended: () => ended, live: () => live }, { collect, minor, settled: () => false });
    ended = 50_000;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    vi.advanceTimersByTime(COMPACT_CHECK_MS + COMPACT_GAP_MS);
    expect(gcs).toEqual(['full', 'minor']);
    // Work again: the rest of the series is dropped, not resumed once it is quiet.
    ended += 10;
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    vi.advanceTimersByTime(20_000);
    expect(gcs).toHaveLength(2);
    expect(c.stats()).toMatchObject({ heapCompactions: 0, heapCompactionsStopped: 1 });
    // A series that new tasks in the table stop before any of them ended.
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(2 * COMPACT_CHECK_MS);
    expect(gcs).toHaveLength(3);
    live = 500;
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    expect(gcs).toHaveLength(3);
    expect(c.stats()).toMatchObject({ heapCompactions: 0, heapCompactionsStopped: 2 });
    // A next burst while one task stays in the table (a long one): nothing until it leaves.
    ended += COMPACT_AFTER_TASKS;
    live = 100;
    vi.advanceTimersByTime(5000);
    expect(gcs).toHaveLength(3);
    live = 0;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    expect(gcs).toHaveLength(4);
    // No series ran to its end: none compacted the old generation; each began with a full GC.
    expect(gcs).toEqual(['full', 'minor', 'full', 'full']);
    c.stop();
    vi.advanceTimersByTime(20_000);
    expect(gcs).toHaveLength(4);
  });

  it('every choice follows the heap’s bytes, not the clock: a slow GC (a loaded machine) neither ends a series nor changes which heaps get one', () => {
    vi.useFakeTimers();
    let now = 0;
    let ended = 0;
    const MB = 1 << 20;
    let heap = 400 * MB;
    let pauseMs = 300; // every full GC this long by the clock: bench:tasks' 24 MB under load read 52-307 ms
    const gcs: string[] = [];
    const collect = vi.fn((compact: GcMove) => {
      gcs.push(gcName(compact));
      now += pauseMs;
    });
    let young = 0; // the young generation is back after this many scavenges
    const minor = vi.fn(() => void (gcs.push('minor'), young--));
    const mark = vi.fn();
    const c = compactAfterBursts(
      { ended: () => ended, live: () => 0 },
      { collect, minor, settled: () => young <= 0, clock: () => now, heapBytes: () => heap, mark },
    );
    const burst = (scavenges = 3) => {
      gcs.length = 0;
      young = scavenges;
      ended += COMPACT_AFTER_TASKS;
      vi.advanceTimersByTime(60_000);
      return [...gcs];
    };
    // A large heap (10,000 nodes' sessions): its first GC is expected over the bound at COMPACT_MS_PER_MB: no
    // forced GC, V8's incremental marking instead (session 15: one of 84 ms after the first job at 10,000 nodes).
    expect(burst()).toEqual([]);
    expect(c.stats()).toMatchObject({ heapCompactionsSkipped: 1, heapMarkingsStarted: 1, heapCompactions: 0 });
    expect(mark).toHaveBeenCalledTimes(1);
    // bench:tasks' heap after 100,000 freed tasks (24 MB) on a loaded machine: its first GC reads 300 ms. The series
    // runs to its end all the same: the scavenges that give the young generation back, then a last GC that moves the
    // objects of fragmented pages (one that moves all of 24 MB is expected over the bound). Before, it stopped at that first pause.
    heap = 24 * MB;
    expect(burst()).toEqual(['full', 'minor', 'minor', 'minor', 'fragmented']);
    expect(c.stats()).toMatchObject({
      heapCompactions: 1,
      heapCompactionsMoved: 0,
      heapCompactionsFragmented: 1,
      heapCompactionGcs: 2,
      heapCompactionScavenges: 3,
    });
    expect(c.stats()).toMatchObject({ heapCompactionMaxGcMs: 300, heapCompactionLastGcMs: 300 });
    // The pause per MB it read is shown, not used.
    expect(c.stats().heapCompactionMsPerMb).toBeCloseTo(300 / 24, 3);
    // The same heap on a quiet machine: the same GCs.
    pauseMs = 20;
    expect(burst()).toEqual(['full', 'minor', 'minor', 'minor', 'fragmented']);
    expect(c.stats()).toMatchObject({ heapCompactions: 2, heapCompactionsMoved: 0, heapCompactionsFragmented: 2 });
    // A heap small enough to move every object within the bound: the last GC compacts, slow or not.
    heap = Math.floor(COMPACT_MAX_PAUSE_MS / COMPACT_MOVE_MS_PER_MB) * MB;
    pauseMs = 300;
    expect(burst(1)).toEqual(['full', 'minor', 'compacting']);
    expect(c.stats()).toMatchObject({ heapCompactions: 3, heapCompactionsMoved: 1, heapCompactionLastGcMs: 300 });
    // A fast GC measured (0.1 ms/MB) lets no larger heap in later: 200 MB is skipped as before.
    pauseMs = (heap / MB) * 0.1;
    burst(1);
    expect(c.stats().heapCompactionMsPerMb).toBeCloseTo(0.1, 3);
    heap = 200 * MB;
    expect(burst()).toEqual([]);
    expect(c.stats()).toMatchObject({ heapCompactionsSkipped: 2, heapCompactions: 4 });
    // The line is the bytes': a heap just over what COMPACT_MS_PER_MB fits in the bound is skipped, one under runs.
    const line = (COMPACT_MAX_PAUSE_MS / COMPACT_MS_PER_MB) * MB;
    heap = line + MB;
    expect(burst()).toEqual([]);
    heap = line - MB;
    expect(burst(0)).toEqual(['full', 'full']);
    expect(c.stats()).toMatchObject({ heapCompactionsSkipped: 3, heapCompactions: 5, heapMarkingsStarted: 3 });
    // Between: a last GC that moves COMPACT_FRAGMENTED_MB fits up to its line, a plain one past it.
    const fragmentedLine = ((COMPACT_MAX_PAUSE_MS - COMPACT_FRAGMENTED_MB * (COMPACT_MOVE_MS_PER_MB - COMPACT_MS_PER_MB)) / COMPACT_MS_PER_MB) * MB;
    heap = fragmentedLine - MB;
    expect(burst(0)).toEqual(['full', 'fragmented']);
    heap = fragmentedLine + MB;
    expect(burst(0)).toEqual(['full', 'full']);
    // A series that ran took the garbage itself: marking is started only for skipped bursts.
    expect(mark).toHaveBeenCalledTimes(3);
    c.stop();
  });

  it('once a marking it started has ended, the heap the burst left alive gets the series if it fits the bound now, else a second marking if many pages are unused', () => {
    vi.useFakeTimers();
    const MB = 1 << 20;
    let ended = 0;
    let live = 0;
    let now = 0;
    let majors = 0;
    // Before the marking: the estimate counts what the burst had alive at V8's last mark-compact (too large).
    let heap = 200 * MB;
    const heapBytes = Object.assign(() => heap, { majors: () => majors });
    const collect = vi.fn((_compact: GcMove) => void (now += 5));
    const mark = vi.fn((_again?: boolean) => {});
    let spare = 0;
    const c = compactAfterBursts(
      { ended: () => ended, live: () => live },
      { collect, minor: () => {}, settled: () => true, mark, heapBytes, clock: () => now, spare: () => spare },
    );
    ended = COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(2 * COMPACT_CHECK_MS);
    expect(mark).toHaveBeenCalledTimes(1);
    expect(collect).not.toHaveBeenCalled();
    // Marking under way: nothing more.
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(collect).not.toHaveBeenCalled();
    // V8 ends it: 25 MB live. The series runs (full GC, then a last one that moves the objects of fragmented pages:
    // all of 25 MB is too much to move), once.
    heap = 25 * MB;
    majors++;
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(collect.mock.calls.map((a) => a[0])).toEqual([false, 'fragmented']);
    expect(c.stats()).toMatchObject({ heapCompactionsAfterMarking: 1, heapCompactions: 1, heapMarkingsStarted: 1 });
    majors++;
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(collect).toHaveBeenCalledTimes(2);
    // After the next burst, a marking whose heap stays large: no series; with few unused pages, nothing more.
    heap = 400 * MB;
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(2 * COMPACT_CHECK_MS);
    expect(mark).toHaveBeenCalledTimes(2);
    majors++;
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(mark).toHaveBeenCalledTimes(2);
    // Many unused pages: one second marking, started whether the old generation grew or not; then nothing more.
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(2 * COMPACT_CHECK_MS);
    expect(mark).toHaveBeenCalledTimes(3);
    spare = COMPACT_SPARE_BYTES;
    majors++;
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(mark.mock.calls.map((a) => a[0] ?? false)).toEqual([false, false, false, true]);
    majors++;
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(mark).toHaveBeenCalledTimes(4);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(c.stats().heapMarkingsAgain).toBe(1);
    // New work while a marking runs: nothing after it.
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(2 * COMPACT_CHECK_MS);
    expect(mark).toHaveBeenCalledTimes(5);
    live = 500;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    heap = 25 * MB;
    majors++;
    live = 0;
    vi.advanceTimersByTime(10 * COMPACT_CHECK_MS);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(mark).toHaveBeenCalledTimes(5);
    expect(c.stats()).toMatchObject({ heapCompactionsAfterMarking: 1, heapMarkingsAgain: 1 });
    c.stop();
  });

  it('counts a compaction once the RSS stops falling after its last GC (V8 unmaps freed pages on its helper threads), at most COMPACT_UNMAP_WAITS gaps later', () => {
    vi.useFakeTimers();
    const MB = 1 << 20;
    let ended = 0;
    let rss = 150 * MB;
    const falls: number[] = [];
    const gcs: string[] = [];
    const collect = vi.fn((move: GcMove) => void gcs.push(gcName(move)));
    const c = compactAfterBursts(
      { ended: () => ended, live: () => 0 },
      { collect, minor: () => {}, settled: () => true, heapBytes: () => 10 * MB, rss: () => (rss -= falls.shift() ?? 0) },
    );
    // bench:tasks under load: the pages the last GC freed go back over the next half second.
    falls.push(0, 23 * MB, 4 * MB, COMPACT_UNMAP_BYTES / 2);
    ended = COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(COMPACT_CHECK_MS + COMPACT_GAP_MS);
    expect(gcs).toEqual(['full', 'compacting']);
    expect(c.stats().heapCompactions).toBe(0);
    vi.advanceTimersByTime(2 * COMPACT_GAP_MS);
    expect(c.stats().heapCompactions).toBe(0);
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    expect(c.stats().heapCompactions).toBe(1);
    expect(rss).toBe(150 * MB - 27 * MB - COMPACT_UNMAP_BYTES / 2);
    // An RSS that keeps falling (other memory going) does not hold the count back for ever.
    falls.push(0, ...Array.from({ length: 100 }, () => 2 * MB));
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(COMPACT_CHECK_MS + COMPACT_GAP_MS + (COMPACT_UNMAP_WAITS - 1) * COMPACT_GAP_MS);
    expect(c.stats().heapCompactions).toBe(1);
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    expect(c.stats().heapCompactions).toBe(2);
    c.stop();
  });

  it('runs V8’s real collection in this process and reads its young generation', () => {
    vi.useFakeTimers();
    let ended = 0;
    // The heap's size as a small one (a vitest worker's may pass what the prior rate lets run): the GCs are real.
    const c = compactAfterBursts({ ended: () => ended, live: () => 0 }, { heapBytes: () => 1 << 20 });
    ended = COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    expect(() => vi.advanceTimersByTime(COMPACT_CHECK_MS + (COMPACT_COLLECTIONS + COMPACT_UNMAP_WAITS) * COMPACT_GAP_MS)).not.toThrow();
    const s = c.stats();
    expect(s.heapCompactions).toBe(1);
    expect(s.heapCompactionGcs).toBeGreaterThanOrEqual(1);
    expect(s.heapCompactionGcs).toBeLessThanOrEqual(COMPACT_COLLECTIONS + 1);
    c.stop();
  });

  it('judges a heap by what its last mark-compact kept, not by the garbage a burst left since', async () => {
    vi.useRealTimers();
    const live = liveHeapBytes();
    try {
      setFlagsFromString('--expose-gc');
      (runInNewContext('gc') as () => void)();
      await new Promise((r) => setTimeout(r, 20)); // the GC's performance entry
      const kept = live();
      expect(kept).toBeGreaterThan(0);
      // A burst's garbage: ~30 MB of records that lived long enough to be promoted (two scavenges), then dropped.
      const gc = runInNewContext('gc') as (o?: { type: 'minor' }) => void;
      let held: { i: number; s: string }[] | null = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `task ${i}` }));
      gc({ type: 'minor' });
      gc({ type: 'minor' });
      expect(held.length).toBe(300_000);
      held = null;
      const used = getHeapStatistics().used_heap_size;
      expect(used - kept).toBeGreaterThan(10 << 20);
      expect(live()).toBeLessThanOrEqual(kept);
    } finally {
      live.stop();
    }
  });

  it('starts V8’s incremental mark-compact at once, which takes a burst’s promoted garbage without a forced full GC', async () => {
    vi.useRealTimers();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' }) => void;
    gc(); // ends any marking V8 had begun, and sets its limit from what is live now
    const kept = getHeapStatistics().used_heap_size;
    // A burst's garbage: ~10 MB of records promoted by two scavenges, then dropped.
    let held: { i: number; s: string }[] | null = Array.from({ length: 100_000 }, (_, i) => ({ i, s: `task ${i}` }));
    gc({ type: 'minor' });
    gc({ type: 'minor' });
    expect(held.length).toBe(100_000);
    held = null;
    expect(getHeapStatistics().used_heap_size - kept).toBeGreaterThan(5 << 20);
    const entries: { kind: number; start: number }[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) entries.push({ kind: (e as unknown as { detail: NodeGCPerformanceDetail }).detail.kind, start: e.startTime });
    });
    obs.observe({ entryTypes: ['gc'] });
    try {
      const t0 = performance.now();
      incrementalMarking()();
      const t1 = performance.now();
      // Marking began within the call (V8's "incremental" GC entry is its start); a plain scavenge starts none.
      await new Promise((r) => setTimeout(r, 50));
      expect(entries.some((e) => e.kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL && e.start >= t0 && e.start <= t1)).toBe(true);
      // V8 then marks in tasks of its own and ends with a mark-compact; nothing here forces one.
      const major = () => entries.some((e) => e.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      for (let i = 0; i < 200 && !major(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(major()).toBe(true);
      expect(getHeapStatistics().used_heap_size - kept).toBeLessThan(5 << 20);
    } finally {
      obs.disconnect();
    }
  });

  it('right after a mark-compact, a second marking starts only when asked to start whether the old generation grew', async () => {
    vi.useRealTimers();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc(); // ends any marking V8 had begun; the old generation has not grown since
    const kinds: number[] = [];
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) kinds.push((e as unknown as { detail: NodeGCPerformanceDetail }).detail.kind);
    });
    obs.observe({ entryTypes: ['gc'] });
    try {
      const mark = incrementalMarking();
      mark();
      await new Promise((r) => setTimeout(r, 50));
      expect(kinds).not.toContain(constants.NODE_PERFORMANCE_GC_INCREMENTAL);
      mark(true);
      await new Promise((r) => setTimeout(r, 50));
      expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_INCREMENTAL);
      for (let i = 0; i < 200 && !kinds.includes(constants.NODE_PERFORMANCE_GC_MAJOR); i++) await new Promise((r) => setTimeout(r, 50));
      expect(kinds).toContain(constants.NODE_PERFORMANCE_GC_MAJOR);
    } finally {
      obs.disconnect();
    }
  });
});

/**
 * A fresh process's young generation (1 MB, as a compaction leaves it) under a burst whose objects survive:
 * the chunks of ~1 MB retained before it reaches 8 MB, and its size then. `setYoung`: the CLI's setting
 * first, at run time, from the built code (npm run build), as `tabmesh coordinator` runs it.
 */
function youngGrowth(setYoung: boolean): { start: number; end: number; chunks: number } {
  const heap = pathToFileURL(join(import.meta.dirname, '../../dist/cli/heap-flags.js')).href;
  const script = `import { setYoungGrowth } from ${JSON.stringify(heap)};
import { getHeapSpaceStatistics } from 'node:v8';
${setYoung ? 'setYoungGrowth();' : ''}
const young = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
const keep = [];
const start = young();
let chunks = 0;
while (young() < 8 << 20 && chunks < 200) {
  for (let i = 0; i < 1 << 14; i++) keep.push({ a: i, b: 'x' + i });
  chunks++;
}
console.log(JSON.stringify({ start, end: young(), chunks }));`;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as {
    start: number;
    end: number;
    chunks: number;
  };
}

describe('the young generation after a compaction (issue 14, session 17)', () => {
  it('grows back to its ceiling at its first growth in a burst, not in doublings', () => {
    const own = youngGrowth(false);
    const cli = youngGrowth(true);
    expect(own.start).toBeLessThanOrEqual(2 << 20);
    expect(cli.start).toBe(own.start);
    // V8's own factor (2) grows it to 8 MB in several steps; the CLI's in one, and past 8 MB.
    expect(cli.chunks).toBe(1);
    expect(own.chunks).toBeGreaterThan(1);
    expect(cli.end).toBeGreaterThan(own.end);
  });

  it('refuses a factor outside 2..64', () => {
    expect(() => setYoungGrowth(1)).toThrow(RangeError);
    expect(() => setYoungGrowth(65)).toThrow(RangeError);
    expect(() => setYoungGrowth(2.5)).toThrow(RangeError);
  });
});
