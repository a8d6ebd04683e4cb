// bench:scale's GC figures (bench/scale-gc.ts, issue 14): pauses tallied by
// kind with their distribution, the longest named, a reset starting a new job,
// and the kind read from a real 'gc' performance entry; the heap's bytes by GC
// (allocated, copied, promoted: counts that hold under load) from V8's statistics.
import { constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { addGcBytes, GcTally, gcBytesLine, gcKind, gcLine, heapGrowthFromEnv } from '../../bench/scale-gc.js';
import { DEFAULT_HEAP_GROWTH_PERCENT } from '../../cli/heap-flags.js';

describe("the coordinator's GC pauses in bench:scale", () => {
  it('counts scavenges and mark-compacts apart, with their total, median, 90th percentile and longest', () => {
    const g = new GcTally();
    for (const ms of [3, 1, 2, 4, 5, 6, 7, 8, 9, 10]) g.add('minor', ms);
    g.add('major', 60);
    g.add('incremental', 0.5);
    const s = g.summary();
    expect(s.byKind.minor).toEqual({ n: 10, ms: 55, p50: 5, p90: 9, max: 10 });
    expect(s.byKind.major).toEqual({ n: 1, ms: 60, p50: 60, p90: 60, max: 60 });
    expect(s.ms).toBe(115.5);
    expect(s.max).toBe(60);
    expect(s.maxKind).toBe('major');
    expect(s.over50).toBe(1);
    expect(gcLine(s)).toContain('minor 10 x p50 5.0 p90 9.0 max 10.0 ms (55 ms)');
  });

  it('a reset starts the next job from nothing', () => {
    const g = new GcTally();
    g.add('minor', 70);
    g.reset();
    g.add('minor', 2);
    const s = g.summary();
    expect(s.byKind.minor?.n).toBe(1);
    expect(s.over50).toBe(0);
    expect(s.max).toBe(2);
    g.reset();
    expect(g.summary()).toEqual({ ms: 0, max: 0, maxKind: '', over50: 0, byKind: {} });
    expect(gcLine(g.summary())).toBe('none');
  });

  it("reads a pause's kind from its entry's detail", () => {
    const entry = (kind: number) => ({ detail: { kind } }) as unknown as PerformanceEntry;
    expect(gcKind(entry(constants.NODE_PERFORMANCE_GC_MINOR))).toBe('minor');
    expect(gcKind(entry(constants.NODE_PERFORMANCE_GC_MAJOR))).toBe('major');
    expect(gcKind(entry(constants.NODE_PERFORMANCE_GC_INCREMENTAL))).toBe('incremental');
    expect(gcKind({} as PerformanceEntry)).toBe('other');
  });

  it('counts the bytes allocated between GCs and what scavenges copied and promoted, from the statistics around each GC', () => {
    const MB = 1 << 20;
    const side = (used: number, young: number, old: number) => ({
      heapStatistics: { usedHeapSize: used } as never,
      heapSpaceStatistics: [
        { spaceName: 'new_space', spaceUsedSize: young },
        { spaceName: 'old_space', spaceUsedSize: old },
      ] as never,
    });
    const stats = [
      // From 10 MB used: 16 MB allocated, a scavenge keeps 2 MB young and promotes 3.
      { gcType: 'Scavenge', cost: 0, beforeGC: side(26 * MB, 16 * MB, 8 * MB), afterGC: side(15 * MB, 2 * MB, 11 * MB) },
      // 5 MB more, then a mark-compact: neither copied nor promoted by a scavenge.
      { gcType: 'MarkSweepCompact', cost: 0, beforeGC: side(20 * MB, 7 * MB, 11 * MB), afterGC: side(12 * MB, 7 * MB, 4 * MB) },
    ];
    const b = addGcBytes({ allocated: 0, copied: 0, promoted: 0, scavenges: 0 }, stats, 10 * MB, 13 * MB);
    // 16 + 5 + 1 (after the last GC) MB.
    expect(b).toEqual({ allocated: 22 * MB, copied: 2 * MB, promoted: 3 * MB, scavenges: 1 });
    expect(gcBytesLine(b, 1024)).toBe('allocated 22,528 B, copied 2,048 B, promoted 3,072 B a task; 1 scavenges, 5.0 MB copied and promoted each');
  });

  it("counts this process's own allocations and scavenges; a reset starts from nothing", () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' }) => void;
    const g = new GcTally();
    g.countBytes();
    g.reset();
    // ~8 MB of records that survive two scavenges, then go.
    let held: { i: number; s: string }[] | null = Array.from({ length: 100_000 }, (_, i) => ({ i, s: `task ${i}` }));
    gc({ type: 'minor' });
    gc({ type: 'minor' });
    expect(held.length).toBe(100_000);
    held = null;
    const b = g.summary().bytes!;
    expect(b.scavenges).toBeGreaterThanOrEqual(2);
    expect(b.allocated).toBeGreaterThan(4 << 20);
    expect(b.copied + b.promoted).toBeGreaterThan(2 << 20);
    g.reset();
    expect(g.summary().bytes!.scavenges).toBe(0);
  });
});

describe("bench:scale's coordinator heap growth (SCALE_HEAP_GROWTH)", () => {
  it("is the CLI's by default, V8's own at 0, and refuses what setHeapGrowth would not take", () => {
    expect(heapGrowthFromEnv(undefined)).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
    expect(heapGrowthFromEnv('')).toBe(DEFAULT_HEAP_GROWTH_PERCENT);
    expect(DEFAULT_HEAP_GROWTH_PERCENT).toBeGreaterThan(0);
    expect(heapGrowthFromEnv('0')).toBe(0);
    expect(heapGrowthFromEnv('20')).toBe(20);
    for (const bad of ['-1', '1001', '12.5', 'lots']) expect(() => heapGrowthFromEnv(bad)).toThrow(/SCALE_HEAP_GROWTH/);
  });
});
