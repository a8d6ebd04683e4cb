// The CLI coordinator's heap compaction after a burst (cli/heap.ts
// compactAfterBursts; its series in heap-compact.test.ts) with V8's own
// collections: a marking it started, the heap that marking left, V8's real
// collections in this process, and the young generation's growth after a
// compaction (cli/heap-flags.ts).
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COMPACT_AFTER_TASKS,
  COMPACT_CHECK_MS,
  COMPACT_COLLECTIONS,
  COMPACT_GAP_MS,
  COMPACT_SPARE_BYTES,
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

describe('compactAfterBursts: markings, V8’s own collections', () => {
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
