// bench:scale at 20,000 nodes on a VM whose hard open-file limit is 20,000: one
// coordinator takes 19,728 nodes, so that size runs on two coordinators of one
// mesh with its nodes spread, unless the run names its own layout; and each
// coordinator's part of a job is reported on its own (issue 14, session 24).
import { describe, expect, it } from 'vitest';
import { layouts, nodesPerCoordinator } from '../../bench/scale-layout.js';
import { coordinatorRuns, coordinatorTable } from '../../bench/scale-per-coordinator.js';
import type { Probe } from '../../bench/scale-coordinator.js';

describe('bench:scale layout', () => {
  it('one coordinator holds its open-file limit less the reserve and the drivers room', () => {
    expect(nodesPerCoordinator(20_000)).toBe(19_728);
    expect(nodesPerCoordinator(undefined)).toBe(Infinity);
  });

  it('a size past one coordinator runs on as many as it needs, its nodes spread; the baseline stays on one', () => {
    expect(layouts([100, 10_000, 20_000], undefined, undefined, 19_728)).toEqual([
      { coordinators: 1, spread: false },
      { coordinators: 1, spread: false },
      { coordinators: 2, spread: true },
    ]);
    expect(layouts([100, 40_000], undefined, undefined, 19_728)).toEqual([
      { coordinators: 1, spread: false },
      { coordinators: 3, spread: true },
    ]);
    expect(layouts([100, 20_000], undefined, undefined, Infinity)).toEqual([
      { coordinators: 1, spread: false },
      { coordinators: 1, spread: false },
    ]);
  });

  it('SCALE_COORDINATORS and SCALE_SPREAD keep their meaning when set', () => {
    expect(layouts([100, 20_000], '2', undefined, 19_728)).toEqual([
      { coordinators: 1, spread: false },
      { coordinators: 2, spread: false },
    ]);
    expect(layouts([300, 300, 300, 300], '2,2,2,2', '0,1,0,1', 19_728).map((l) => l.spread)).toEqual([false, true, false, true]);
    expect(layouts([100, 20_000], undefined, '0', 19_728)).toEqual([
      { coordinators: 1, spread: false },
      { coordinators: 2, spread: false },
    ]);
  });

  it('SCALE_NODE_PROCESSES gives every size, or each, its node processes (at most one a node)', () => {
    expect(layouts([100, 20_000], '2,2', '1,1', 19_728, '4')).toEqual([
      { coordinators: 2, spread: true, processes: 4 },
      { coordinators: 2, spread: true, processes: 4 },
    ]);
    expect(layouts([2, 20_000], undefined, undefined, 19_728, '4,8').map((l) => l.processes)).toEqual([2, 8]);
  });

  it('refuses what it cannot run with a clear error', () => {
    expect(() => layouts([100, 20_000], '0', undefined, 19_728)).toThrow(/SCALE_COORDINATORS/);
    expect(() => layouts([100, 20_000], undefined, undefined, 19_728, '0')).toThrow(/SCALE_NODE_PROCESSES/);
    expect(() => layouts([100, 20_000], undefined, undefined, 19_728, '4,4,4')).toThrow(/one per size/);
    expect(() => layouts([100, 20_000], '1,2,2', undefined, 19_728)).toThrow(/one per size/);
    expect(() => layouts([100, 20_000], undefined, 'yes', 19_728)).toThrow(/SCALE_SPREAD/);
    expect(() => layouts([100, Number.NaN], undefined, undefined, 19_728)).toThrow(/SCALE_NODES/);
    expect(() => layouts([200_000], undefined, undefined, 19_728)).toThrow(/at most 8/);
  });
});

const probe = (cpuUs: number, loopMaxMs: number, gcMax: number): Probe => ({ cpuUs, loopMaxMs, gc: { max: gcMax } }) as unknown as Probe;

describe('bench:scale per coordinator', () => {
  it("splits a job's CPU by coordinator: the driver's share is what the others' nodes did not run", () => {
    const runs = coordinatorRuns(
      20_000,
      [probe(1_000_000, 0, 0), probe(500_000, 0, 0)],
      [probe(3_040_000, 68, 31), probe(1_320_000, 62, 12)],
      // The driver's coordinator counts the tasks it handed on as finished too.
      [20_000, 6_400],
    );
    expect(runs).toEqual([
      { cpuUsPerTask: 102, tasksRun: 13_600, cpuUsPerTaskRun: 150, loopMaxMs: 68, gcMaxMs: 31 },
      { cpuUsPerTask: 41, tasksRun: 6_400, cpuUsPerTaskRun: 128.125, loopMaxMs: 62, gcMaxMs: 12 },
    ]);
    const table = coordinatorTable([{ n: 20_000, byCoordinator: [10_000, 10_000], idle: [1.8, 2.1], runs: [{ tasks: 20_000, perCoordinator: runs }] }]);
    expect(table.slice(2)).toEqual([
      '| 20000 | 0 (driver) | 10000 | 1.8% | 20000 | 13600 | 102 µs (150 µs) | 68 ms | 31 ms |',
      '| 20000 | 1 | 10000 | 2.1% | 20000 | 6400 | 41 µs (128 µs) | 62 ms | 12 ms |',
    ]);
  });

  it('a coordinator whose nodes ran nothing has no CPU per task run; mismatched inputs are refused', () => {
    const runs = coordinatorRuns(100, [probe(0, 0, 0), probe(0, 0, 0)], [probe(5_000, 1, 1), probe(300, 1, 1)], [100, 0]);
    expect(runs[1].cpuUsPerTaskRun).toBeNull();
    expect(runs[0].tasksRun).toBe(100);
    expect(() => coordinatorRuns(100, [probe(0, 0, 0)], [probe(1, 1, 1), probe(1, 1, 1)], [1, 1])).toThrow(/one probe before/);
  });
});
