// The CLI coordinator gives its heap back once a burst of tasks is over
// (cli/heap.ts compactAfterBursts): when at least 10,000 tasks ended, none
// ended since the last check and the task table is near empty, a full GC at
// each of the next quiet checks, a bounded number; none while a burst runs,
// after a small one, or again for the same burst; new work stops them.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMPACT_AFTER_TASKS, COMPACT_COLLECTIONS, compactAfterBursts } from '../../cli/heap.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('compactAfterBursts', () => {
  it('collects at the quiet checks after a burst, a bounded number of times, once per burst', () => {
    vi.useFakeTimers();
    let ended = 500;
    let live = 0;
    const collect = vi.fn();
    const stop = compactAfterBursts({ ended: () => ended, live: () => live }, 1000, collect);
    // A burst: tasks end at every check, thousands in flight.
    live = 20_000;
    for (let i = 0; i < 12; i++) {
      ended += 1000;
      vi.advanceTimersByTime(1000);
    }
    expect(collect).not.toHaveBeenCalled();
    // Over: nothing in flight, no task ended since the last check.
    live = 3;
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(60_000);
    expect(collect).toHaveBeenCalledTimes(COMPACT_COLLECTIONS);
    // A small burst after it: no collection.
    ended += COMPACT_AFTER_TASKS - 1;
    vi.advanceTimersByTime(3000);
    expect(collect).toHaveBeenCalledTimes(COMPACT_COLLECTIONS);
    // One more task makes it a burst's worth.
    ended += 1;
    vi.advanceTimersByTime(30_000);
    expect(collect).toHaveBeenCalledTimes(2 * COMPACT_COLLECTIONS);
    stop();
    ended += 2 * COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(30_000);
    expect(collect).toHaveBeenCalledTimes(2 * COMPACT_COLLECTIONS);
  });

  it('new work stops the collections; a long task in the table holds them back', () => {
    vi.useFakeTimers();
    let ended = 0;
    let live = 0;
    const collect = vi.fn();
    const stop = compactAfterBursts({ ended: () => ended, live: () => live }, 1000, collect);
    ended = 50_000;
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(2000);
    expect(collect).toHaveBeenCalledTimes(2);
    // Work again: the rest of the series is dropped, not resumed once it is quiet.
    ended += 10;
    vi.advanceTimersByTime(1000);
    vi.advanceTimersByTime(20_000);
    expect(collect).toHaveBeenCalledTimes(2);
    // A next burst while one task stays in the table (a long one): nothing until it leaves.
    ended += COMPACT_AFTER_TASKS;
    live = 100;
    vi.advanceTimersByTime(5000);
    expect(collect).toHaveBeenCalledTimes(2);
    live = 0;
    vi.advanceTimersByTime(1000);
    expect(collect).toHaveBeenCalledTimes(3);
    stop();
  });

  it('runs V8’s real collection in this process', () => {
    vi.useFakeTimers();
    let ended = 0;
    const stop = compactAfterBursts({ ended: () => ended, live: () => 0 }, 1000);
    ended = COMPACT_AFTER_TASKS;
    vi.advanceTimersByTime(1000);
    expect(() => vi.advanceTimersByTime(1000)).not.toThrow();
    stop();
  });
});
