// bench:scale's coordinator says what each long gap of its 10 ms tick was (bench/scale-slow-turns.ts, issue 14,
// session 25): the loop thread's time on a core, in the run queue and off both, the other threads', and the GC
// pauses that began in it with their size, and names the largest part.
import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import type { GCProfilerResult } from 'node:v8';
import { causeOf, pairSizes, parseSchedstat, procTimes, SlowTurns, slowTurnLines, type ProcessTimes } from '../../bench/scale-slow-turns.js';

const text = (s: string) => {
  const b = Buffer.from(s);
  return [b, b.length] as const;
};

/** A fake clock and scheduler: `step(ms, {cpu, wait, othersCpu, othersWait})` advances both, then the tick runs. */
function fake() {
  let now = 0;
  const t: ProcessTimes = { main: { cpuNs: 0, waitNs: 0 }, others: { cpuNs: 0, waitNs: 0 } };
  const slow = new SlowTurns(
    () => ({ main: { ...t.main }, others: { ...t.others } }),
    () => now,
    40,
    false,
  );
  const step = (ms: number, d: { cpu?: number; wait?: number; othersCpu?: number; othersWait?: number } = {}, restart = false) => {
    now += ms;
    t.main.cpuNs += (d.cpu ?? 0) * 1e6;
    t.main.waitNs += (d.wait ?? 0) * 1e6;
    t.others.cpuNs += (d.othersCpu ?? 0) * 1e6;
    t.others.waitNs += (d.othersWait ?? 0) * 1e6;
    slow.tick(restart);
    return now;
  };
  return { slow, step, at: () => now };
}

describe("bench:scale's slow turns", () => {
  it('reads schedstat lines: on-cpu and run-queue ns; anything else as zeros', () => {
    expect(parseSchedstat(...text('70893973 135404 6\n'))).toEqual({ cpuNs: 70893973, waitNs: 135404 });
    expect(parseSchedstat(...text('12 0 1'))).toEqual({ cpuNs: 12, waitNs: 0 });
    expect(parseSchedstat(...text('garbage'))).toEqual({ cpuNs: 0, waitNs: 0 });
    expect(parseSchedstat(...text('123'))).toEqual({ cpuNs: 0, waitNs: 0 });
    expect(parseSchedstat(...text(''))).toEqual({ cpuNs: 0, waitNs: 0 });
  });

  it('splits a long gap into the loop thread on a core, in the run queue and off both; short gaps and restarts are no turn', () => {
    const { slow, step } = fake();
    step(0, {}, true);
    step(10, { cpu: 2 });
    step(38, { cpu: 20, wait: 15 }); // under 40
    step(70, { cpu: 12, wait: 45, othersCpu: 30, othersWait: 9 }); // a 70 ms gap
    step(500, {}, true); // the tick was off (a quiet probe): no delay
    const r = slow.report(true);
    expect(r.over).toBe(1);
    expect(r.top).toHaveLength(1);
    expect(r.top[0]).toMatchObject({ delayMs: 70, cpuMs: 12, waitMs: 45, offMs: 13, othersCpuMs: 30, othersWaitMs: 9, gcMs: 0, cause: 'run queue' });
    expect(r.byCause).toEqual({ 'run queue': 1 });
    expect(slow.report(true).over).toBe(0);
  });

  it('names a turn by the GC pauses that began in it when they are half its delay or more', () => {
    const { slow, step, at } = fake();
    step(0, {}, true);
    const from = at();
    step(60, { cpu: 48, wait: 2 }); // a 60 ms gap; a 31 ms scavenge in it
    slow.gc(from + 5, 31, 'minor');
    slow.gc(from - 5, 90, 'major'); // before the gap: not in it
    step(10);
    step(80, { cpu: 60, wait: 10 }); // an 80 ms gap, its own work
    const r = slow.report(false);
    expect(r.over).toBe(2);
    expect(r.top.map((t) => t.cause)).toEqual(['work', 'gc']);
    expect(r.top[1]).toMatchObject({ delayMs: 60, gcMs: 31, gc: ['minor 31.0 ms'] });
    expect(r.byCause).toEqual({ work: 1, gc: 1 });
    expect(slowTurnLines(r)[0]).toContain('2 loop delays over 40 ms');
    expect(slowTurnLines(r)[2]).toContain('gc minor 31.0 ms => gc');
    // Without reset the next report holds them still.
    expect(slow.report(true).over).toBe(2);
    expect(slowTurnLines(slow.report(true))).toEqual(['no loop delay over 40 ms']);
  });

  it('names the run queue first, a pause whose loop thread was parked, and off cpu outside a pause', () => {
    expect(causeOf({ delayMs: 60, cpuMs: 5, waitMs: 10, offMs: 45, gcMs: 20 })).toBe('off cpu');
    expect(causeOf({ delayMs: 60, cpuMs: 5, waitMs: 10, offMs: 45, gcMs: 30 })).toBe('gc (parked for its helpers)');
    expect(causeOf({ delayMs: 60, cpuMs: 40, waitMs: 10, offMs: 10, gcMs: 30 })).toBe('gc');
    expect(causeOf({ delayMs: 65, cpuMs: 16, waitMs: 49, offMs: 0, gcMs: 58 })).toBe('run queue (in gc)');
    expect(causeOf({ delayMs: 60, cpuMs: 10, waitMs: 40, offMs: 10, gcMs: 0 })).toBe('run queue');
  });

  it('gives each pause the size of the GC its profiler statistic is, paired in order by kind', () => {
    const side = (used: number, newUsed: number, oldUsed: number) => ({
      heapStatistics: { usedHeapSize: used },
      heapSpaceStatistics: [
        { spaceName: 'new_space', spaceUsedSize: newUsed },
        { spaceName: 'old_space', spaceUsedSize: oldUsed },
      ],
    });
    const MB = 1 << 20;
    const stats = [
      { gcType: 'Scavenge', cost: 1, beforeGC: side(40 * MB, 16 * MB, 20 * MB), afterGC: side(26 * MB, 2 * MB, 21 * MB) },
      { gcType: 'MarkSweepCompact', cost: 1, beforeGC: side(90 * MB, 0, 80 * MB), afterGC: side(30 * MB, 0, 25 * MB) },
      { gcType: 'Scavenge', cost: 1, beforeGC: side(30 * MB, 16 * MB, 20 * MB), afterGC: side(20 * MB, 1 * MB, 20 * MB) },
    ] as unknown as GCProfilerResult['statistics'];
    const pauses = [
      { start: 1, ms: 30, kind: 'minor' as const },
      { start: 2, ms: 40, kind: 'major' as const },
    ];
    pairSizes(pauses, stats);
    expect(pauses.map((p) => (p as { size?: string }).size)).toEqual(['3.0 MB survived', 'heap 90 -> 30 MB']);
  });

  it("reads this process's threads from /proc: the loop thread's CPU apart from a busy worker's", async () => {
    const stop = new Int32Array(new SharedArrayBuffer(4));
    const w = new Worker('const { workerData: s } = require("node:worker_threads"); while (Atomics.load(s, 0) === 0);', { eval: true, workerData: stop });
    await new Promise((r) => w.once('online', r));
    const read = procTimes(); // lists the threads now: the worker's among them
    const a = read();
    await new Promise((r) => setTimeout(r, 100)); // the loop thread idle, the worker spinning
    const b = read();
    const t = Date.now();
    while (Date.now() - t < 30); // now the loop thread spins
    const c = read();
    Atomics.store(stop, 0, 1);
    await new Promise((r) => w.once('exit', r));
    const d = (x: { cpuNs: number }, y: { cpuNs: number }) => y.cpuNs - x.cpuNs;
    expect(d(a.others, b.others)).toBeGreaterThan(d(a.main, b.main));
    expect(d(b.main, c.main)).toBeGreaterThan(0);
  });
});
