// bench:scale's GC figures (bench/scale-gc.ts, issue 14): pauses tallied by
// kind with their distribution, the longest named, a reset starting a new job,
// and the kind read from a real 'gc' performance entry.
import { constants } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { GcTally, gcKind, gcLine } from '../../bench/scale-gc.js';

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
});
