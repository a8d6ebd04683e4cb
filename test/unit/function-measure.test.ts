// A function's measure of run time (coordinator/scheduler/task-values.ts countRun) and the pipelining depth it sets
// (room.ts fnDepth: tasks a CPU a node may hold, up to 64 for a function measured at 0.156 ms or less).
import { describe, expect, it } from 'vitest';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { FunctionRecord } from '../../coordinator/gcs/tables.js';
import { fnDepth } from '../../coordinator/scheduler/room.js';
import { countRun } from '../../coordinator/scheduler/task-values.js';
import type { FunctionId } from '../../shared/ids.js';

const fnId = 'a'.repeat(64) as FunctionId;
function measured(): { f: FunctionRecord; depth: () => number } {
  const f = { fnId, kind: 'function', name: 'noop', source: '', ewmaMs: -1, runs: 0, jobs: 0 } as FunctionRecord;
  const gcs = { functions: new Map([[fnId, f]]) } as unknown as Gcs;
  return { f, depth: () => fnDepth(gcs, fnId) };
}

describe("a function's measure", () => {
  it('an empty task measured at 0.3 µs keeps its depth of 64 through runs that lost their core (50 ms each, one in 20)', () => {
    const { f, depth } = measured();
    for (let i = 0; i < 200; i++) countRun(f, 0.0003);
    expect(depth()).toBe(64);
    let lowest = 64;
    for (let i = 0; i < 2000; i++) {
      countRun(f, i % 20 === 7 ? 50 : 0.0003);
      lowest = Math.min(lowest, depth());
    }
    expect(lowest).toBe(64);
    expect(f.ewmaMs).toBeLessThan(0.02);
  });

  it('a function that turns long is measured long within 15 runs, and short again as fast', () => {
    const { f, depth } = measured();
    for (let i = 0; i < 200; i++) countRun(f, 0.001);
    let k = 0;
    while (depth() > 1) {
      countRun(f, 50);
      k++;
    }
    expect(k).toBeLessThanOrEqual(15);
    for (let i = 0; i < 50; i++) countRun(f, 50);
    expect(f.ewmaMs).toBeGreaterThan(45);
    k = 0;
    while (depth() < 64) {
      countRun(f, 0.001);
      k++;
    }
    expect(k).toBeLessThanOrEqual(30);
  });

  it('the first run sets the measure whole; later ones move it by a fifth', () => {
    const { f } = measured();
    countRun(f, 4);
    expect(f.ewmaMs).toBe(4);
    countRun(f, 6);
    expect(f.ewmaMs).toBeCloseTo(4.4, 9);
    countRun(f, 2);
    expect(f.ewmaMs).toBeCloseTo(3.92, 9);
  });
});
