// The CLI coordinator gives its heap back once a burst of tasks is over
// (cli/heap.ts compactAfterBursts): when at least 10,000 tasks ended, none
// ended since the last check and the task table is near empty, full GCs
// COMPACT_GAP_MS apart until the heap is compact (or a bounded number), then
// one that compacts the whole old generation, counted in its stats; none while
// a burst runs, after a small one, or again for the same burst; new work stops
// them (and the compacting one with them).
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COMPACT_AFTER_TASKS,
  COMPACT_CHECK_MS,
  COMPACT_COLLECTIONS,
  COMPACT_GAP_MS,
  COMPACT_MAX_PAUSE_MS,
  COMPACT_SKIPS_IN_A_ROW,
  compactAfterBursts,
} from '../../cli/heap.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('compactAfterBursts', () => {
  it('collects once a burst is over until the heap is compact, counts it, once per burst', () => {
    vi.useFakeTimers();
    let ended = 500;
    let live = 0;
    const collect = vi.fn();
    let compactAfter = 3; // the heap is compact after this many collections
    const c = compactAfterBursts({ ended: () => ended, live: () => live }, COMPACT_CHECK_MS, collect, () => collect.mock.calls.length >= compactAfter);
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
    vi.advanceTimersByTime(2 * COMPACT_GAP_MS);
    // Three until the young generation is back to its size, then the one that compacts the old generation.
    expect(collect.mock.calls.map((a) => a[0])).toEqual([false, false, false, true]);
    expect(c.stats()).toMatchObject({ heapCompactions: 1, heapCompactionGcs: 4, heapCompactionsStopped: 0 });
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(4);
    // A small burst after it: no collection.
    ended += COMPACT_AFTER_TASKS - 1;
    vi.advanceTimersByTime(3000);
    expect(collect).toHaveBeenCalledTimes(4);
    // One more task makes it a burst's worth; a heap that never looks compact gets COMPACT_COLLECTIONS, then the compacting one.
    compactAfter = Infinity;
    ended += 1;
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(4 + COMPACT_COLLECTIONS + 1);
    expect(collect).toHaveBeenLastCalledWith(true);
    expect(collect.mock.calls.filter((a) => a[0] === true)).toHaveLength(2);
    expect(c.stats()).toMatchObject({ heapCompactions: 2, heapCompactionGcs: COMPACT_COLLECTIONS + 1 });
    c.stop();
    ended += 2 * COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(30_000);
    expect(collect).toHaveBeenCalledTimes(4 + COMPACT_COLLECTIONS + 1);
  });

  it('new work stops the collections; a long task in the table holds them back', () => {
    vi.useFakeTimers();
    let ended = 0;
    let live = 0;
    const collect = vi.fn();
    const c = compactAfterBursts({ ended: () => ended, live: () => live }, COMPACT_CHECK_MS, collect, () => false);
    ended = 50_000;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    vi.advanceTimersByTime(COMPACT_CHECK_MS + COMPACT_GAP_MS);
    expect(collect).toHaveBeenCalledTimes(2);
    // Work again: the rest of the series is dropped, not resumed once it is quiet.
    ended += 10;
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    vi.advanceTimersByTime(20_000);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(c.stats()).toMatchObject({ heapCompactions: 0, heapCompactionsStopped: 1 });
    // A series that new tasks in the table stop before any of them ended.
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(2 * COMPACT_CHECK_MS);
    expect(collect).toHaveBeenCalledTimes(3);
    live = 500;
    vi.advanceTimersByTime(COMPACT_GAP_MS);
    expect(collect).toHaveBeenCalledTimes(3);
    expect(c.stats()).toMatchObject({ heapCompactions: 0, heapCompactionsStopped: 2 });
    // A next burst while one task stays in the table (a long one): nothing until it leaves.
    ended += COMPACT_AFTER_TASKS;
    live = 100;
    vi.advanceTimersByTime(5000);
    expect(collect).toHaveBeenCalledTimes(3);
    live = 0;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    expect(collect).toHaveBeenCalledTimes(4);
    // No series ran to its end: none compacted the old generation.
    expect(collect.mock.calls.every((a) => a[0] === false)).toBe(true);
    c.stop();
    vi.advanceTimersByTime(20_000);
    expect(collect).toHaveBeenCalledTimes(4);
  });

  it('a full GC that holds the loop over COMPACT_MAX_PAUSE_MS ends the series, and no series runs while the heap is that large; the compacting one only after a short last one', () => {
    vi.useFakeTimers();
    let now = 0;
    let ended = 0;
    const MB = 1 << 20;
    let heap = 400 * MB;
    let pauseMs = COMPACT_MAX_PAUSE_MS + 10; // a large heap: every full GC this long
    const collect = vi.fn((_compact: boolean) => {
      now += pauseMs;
    });
    const c = compactAfterBursts(
      { ended: () => ended, live: () => 0 },
      COMPACT_CHECK_MS,
      collect,
      () => false,
      COMPACT_GAP_MS,
      () => now,
      () => heap,
    );
    ended = COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    vi.advanceTimersByTime(20_000);
    // One GC, then nothing more: neither the other COMPACT_COLLECTIONS - 1 nor the compacting one.
    expect(collect.mock.calls.map((a) => a[0])).toEqual([false]);
    expect(c.stats()).toMatchObject({ heapCompactionsCut: 1, heapCompactions: 0, heapCompactionGcs: 1, heapCompactionMaxGcMs: pauseMs });
    expect(c.stats().heapCompactionMsPerMb).toBeCloseTo(pauseMs / 400, 3);
    // The next burst on a heap as large: at the rate measured its first GC would stall the loop as long: no series (it ran one a burst before).
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(c.stats()).toMatchObject({ heapCompactionsSkipped: 1, heapCompactionsCut: 1 });
    // So for COMPACT_SKIPS_IN_A_ROW bursts in a row; the next one measures again (its first GC, cut again here).
    for (let i = 1; i < COMPACT_SKIPS_IN_A_ROW; i++) {
      ended += COMPACT_AFTER_TASKS;
      vi.advanceTimersByTime(60_000);
    }
    expect(collect).toHaveBeenCalledTimes(1);
    expect(c.stats().heapCompactionsSkipped).toBe(COMPACT_SKIPS_IN_A_ROW);
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(c.stats()).toMatchObject({ heapCompactionsSkipped: COMPACT_SKIPS_IN_A_ROW, heapCompactionsCut: 2 });
    collect.mockClear();
    // Half the heap (nodes left): 30 ms expected, the series runs. Full GCs under the bound but the last over half of it:
    // the whole series, without the compacting GC.
    heap = 200 * MB;
    pauseMs = COMPACT_MAX_PAUSE_MS / 2 + 5;
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(COMPACT_COLLECTIONS);
    expect(collect.mock.calls.some((a) => a[0] === true)).toBe(false);
    expect(c.stats()).toMatchObject({ heapCompactionsCut: 2, heapCompactions: 1, heapCompactionLastGcMs: 0 });
    // A long first one (the garbage), short ones after it: the series, then the compacting GC.
    pauseMs = COMPACT_MAX_PAUSE_MS - 5;
    collect.mockImplementationOnce(() => (now += pauseMs)).mockImplementation(() => (now += 5));
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenLastCalledWith(true);
    expect(c.stats()).toMatchObject({ heapCompactionsCut: 2, heapCompactions: 2, heapCompactionLastGcMs: 5, heapCompactionMaxGcMs: pauseMs });
    // Short ones: the series, then the compacting GC.
    pauseMs = 5;
    ended += COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenLastCalledWith(true);
    expect(c.stats()).toMatchObject({ heapCompactionsCut: 2, heapCompactions: 3, heapCompactionLastGcMs: 5, heapCompactionMaxGcMs: 5 });
    c.stop();
  });

  it('runs V8’s real collection in this process and reads its young generation', () => {
    vi.useFakeTimers();
    let ended = 0;
    const c = compactAfterBursts({ ended: () => ended, live: () => 0 });
    ended = COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(COMPACT_CHECK_MS);
    expect(() => vi.advanceTimersByTime(COMPACT_CHECK_MS + COMPACT_COLLECTIONS * COMPACT_GAP_MS)).not.toThrow();
    const s = c.stats();
    expect(s.heapCompactions).toBe(1);
    expect(s.heapCompactionGcs).toBeGreaterThanOrEqual(1);
    expect(s.heapCompactionGcs).toBeLessThanOrEqual(COMPACT_COLLECTIONS + 1);
    c.stop();
  });
});
