// bench:scale's idle CPU by thread (bench/scale-threads.ts, issue 14, session 32): ticks read from /proc, parts
// named by thread (the loop `main`, the others by their place after it), percent of one core over the window.
import { describe, expect, it } from 'vitest';
import { partsLine, threadParts, threadTicks, type ThreadTicks } from '../../bench/scale-threads.js';

describe('bench:scale threads', () => {
  it('reads this process’s threads, its loop thread among them (Linux)', () => {
    const t = threadTicks(process.pid);
    if (process.platform !== 'linux') return void expect(t.size).toBe(0);
    expect(t.get(process.pid)?.ticks).toBeGreaterThanOrEqual(0);
    // The right fields: the loop thread's user + system ticks (10 ms) grow by the CPU it spends. Not the sum of the
    // threads against the process's CPU: in a test worker that ran other files, threads that ended count in the
    // process's and are gone from /proc/<pid>/task (stop 41's CI, unit project).
    const before = threadTicks(process.pid).get(process.pid)!.ticks;
    const u0 = process.cpuUsage();
    let spent = 0;
    while (spent < 300) {
      const u = process.cpuUsage(u0);
      spent = (u.user + u.system) / 1000;
    }
    const ms = (threadTicks(process.pid).get(process.pid)!.ticks - before) * 10;
    // Other threads (V8's helpers) may add to the process's CPU meanwhile: the loop's share is most of it.
    expect(ms).toBeGreaterThan(spent * 0.6 - 20);
    expect(ms).toBeLessThan(spent + 30);
    expect(threadTicks(undefined).size).toBe(0);
  });

  it('parts: the loop thread is main, the others by offset or name; percent of a core; idle threads left out', () => {
    const a: ThreadTicks = new Map([
      [100, { name: 'node', ticks: 50 }],
      [104, { name: 'node', ticks: 10 }],
      [105, { name: 'node', ticks: 7 }],
    ]);
    const b: ThreadTicks = new Map([
      [100, { name: 'node', ticks: 90 }],
      [104, { name: 'node', ticks: 10 }],
      [105, { name: 'node', ticks: 9 }],
      [120, { name: 'bio_aof_fsync', ticks: 4 }],
    ]);
    // 20 s: one tick (10 ms) is 0.05% of a core.
    const { parts, total } = threadParts(100, a, b, 20_000);
    expect(parts).toEqual([
      ['main', 2],
      ['bio_aof_fsync', 0.2],
      ['+5', 0.1],
    ]);
    expect(total).toBeCloseTo(2.3, 10);
    expect(partsLine(parts)).toBe('main 2.00%, bio_aof_fsync 0.20%, +5 0.10%');
    expect(partsLine([])).toBe('nothing');
  });
});
