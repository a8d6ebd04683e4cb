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
  COMPACT_UNMAP_BYTES,
  COMPACT_UNMAP_WAITS,
  compactAfterBursts,
} from '../../cli/heap.js';
import { type GcMove } from '../../cli/gc.js';

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
});
