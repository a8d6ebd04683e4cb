// bench:scale's CPU by process over a job (bench/scale-cpu.ts): /proc's ticks read right (a command name with
// spaces and parentheses), the machine's busy time without idle and iowait, and the rest of the machine's share.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuMsOf } from '../../bench/cpu.js';
import { cpuBetween, cpuSnapshot, machineBusyMs } from '../../bench/scale-cpu.js';

describe('scale-cpu', () => {
  it("reads a process's utime + stime in ms, whatever its name", () => {
    // Fields 3.. after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const stat = '4242 (node (a) b) S 1 4242 4242 0 -1 4194304 100 0 0 0 250 37 0 0 20 0 11 0';
    const dir = mkdtempSync(join(tmpdir(), 'tabmesh-scale-cpu-'));
    try {
      writeFileSync(join(dir, 'stat'), stat);
      expect(cpuMsOf(4242, join(dir, 'stat'))).toBe((250 + 37) * 10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A process gone counts nothing in its kind.
    expect(cpuSnapshot({ gone: [2 ** 22 + 7] }).byKind.gone).toBe(0);
  });

  it("counts the machine's busy time without idle and iowait", () => {
    const stat = 'cpu  100 5 20 1000 50 1 2 3 7 0\ncpu0 50 2 10 500 25 0 1 1 0 0\n';
    expect(machineBusyMs(() => stat)).toBe((100 + 5 + 20 + 1 + 2 + 3) * 10);
  });

  it('gives the busy time no process of the run used to others', () => {
    const a = { byKind: { driver: 100, nodes: 1000 }, machineMs: 5000 };
    const b = { byKind: { driver: 300, nodes: 1600 }, machineMs: 6000 };
    expect(cpuBetween(a, b)).toEqual({ driver: 200, nodes: 600, others: 200 });
  });
});
