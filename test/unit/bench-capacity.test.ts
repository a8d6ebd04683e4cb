// bench:redis's capacity with a core per process (bench/capacity.ts): the
// busiest process bounds it, drivers sharing the bench process are charged
// their share, and the figure falls when any process's cost per task rises.
import { describe, expect, it } from 'vitest';
import { bestCapacity, capacity, cpuLine, perThousand } from '../../bench/capacity.js';

describe('capacity with a core per process', () => {
  it('one coordinator spending 90 ms per 1,000 tasks bounds its mesh at ~11,111 tasks/s, whatever the others spend', () => {
    const c = capacity({ driver: 600, coordinator: 1800, node: 900, redis: 260 }, 20_000);
    expect(c.busiest).toBe('coordinator');
    expect(c.msPer1000).toBeCloseTo(90);
    expect(c.tasksPerS).toBeCloseTo(11_111, 0);
  });

  it('falls when the coordinator forwarding the tasks spends more per task', () => {
    const round = { driver: 600, coordinator: 2000, node: 700, coordinator2: 700, node2: 500, redis: 260 };
    const before = capacity(round, 20_000).tasksPerS;
    const after = capacity({ ...round, coordinator: 2400 }, 20_000).tasksPerS;
    expect(after).toBeLessThan(before);
    expect(before / after).toBeCloseTo(1.2);
  });

  it('two drivers in the bench process are each charged half of its time', () => {
    const round = { driver: 3000, coordinator: 1000, coordinator2: 1000 };
    expect(perThousand(round, 20_000, 2).driver).toBeCloseTo(75);
    expect(capacity(round, 20_000, 2).busiest).toBe('driver');
    expect(capacity(round, 20_000, 1).msPer1000).toBeCloseTo(150);
  });

  it('a process /proc could not read is left out, not counted as free; the best round is the least costly', () => {
    expect(perThousand({ coordinator: 1000, node: NaN }, 10_000)).toEqual({ coordinator: 100 });
    const best = bestCapacity([{ coordinator: 2000 }, { coordinator: 1600 }, { coordinator: 1800 }], 20_000);
    expect(best.msPer1000).toBeCloseTo(80);
    expect(bestCapacity([], 20_000).tasksPerS).toBeNaN();
    expect(cpuLine({ driver: 600, coordinator: 1800 }, 20_000)).toContain('capacity with a core per process 11111 tasks/s (bound: coordinator)');
  });
});
