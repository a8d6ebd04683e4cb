// bench:scale repeats each job (SCALE_REPEAT) and reports the median repeat's
// throughput with the spread, but the worst loop delay of any repeat: a stall
// in one repeat must not be hidden by the median (bench/scale-report.ts combineRepeats).
import { describe, expect, it } from 'vitest';
import { combineRepeats, type Run } from '../../bench/scale-report.js';

const run = (tasksPerSec: number, loopMaxMs: number, gcMax: number, cpuUsPerTask: number): Run =>
  ({
    tasks: 100_000,
    tasksPerSec,
    tasksPerSecAll: [tasksPerSec],
    cpuUsPerTask,
    loopMaxMs,
    loopMaxCpuMs: loopMaxMs / 2,
    freeLoopMaxMs: 1,
    statsWorstMs: 5,
    statsServerMs: 1,
    loopLongestMs: loopMaxMs,
    loopCpuLongestMs: 0,
    loopLong: loopMaxMs > 50 ? 1 : 0,
    loopLongWithGc: 0,
    loopCpuLong: 0,
    slow: { over: loopMaxMs > 40 ? 1 : 0, byCause: {}, top: loopMaxMs > 40 ? [{ delayMs: loopMaxMs, waitMs: loopMaxMs / 4 }] : [] },
    gc: { ms: 10, max: gcMax, maxKind: 'minor', over50: gcMax > 50 ? 1 : 0, byKind: {} },
  }) as unknown as Run;

describe('combineRepeats', () => {
  it('takes the median repeat by tasks/s, keeps every rate, and the worst loop and GC of all', () => {
    const c = combineRepeats([run(29_000, 20, 5, 30), run(20_000, 74, 63, 50), run(25_000, 30, 8, 40)]);
    expect(c.tasksPerSec).toBe(25_000);
    expect(c.cpuUsPerTask).toBe(40);
    expect(c.tasksPerSecAll).toEqual([29_000, 20_000, 25_000]);
    expect(c.loopMaxMs).toBe(74);
    expect(c.loopLong).toBe(1);
    expect(c.gc).toMatchObject({ max: 63, over50: 1 });
    // The slow turns reported are the repeat's with the longest gap, not the median's.
    expect(c.slow.top[0]).toMatchObject({ delayMs: 74 });
  });

  it('one repeat is itself; none is an error', () => {
    const one = run(12_000, 45, 3, 70);
    expect(combineRepeats([one])).toMatchObject({ tasksPerSec: 12_000, loopMaxMs: 45, tasksPerSecAll: [12_000] });
    expect(() => combineRepeats([])).toThrow(/no repeats/);
  });
});
