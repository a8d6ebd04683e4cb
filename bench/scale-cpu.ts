// Where the CPU goes during a bench:scale job (issue 14, session 32): CPU time of
// every process of the run by kind (the driver, each coordinator, the simulated
// nodes' processes, Redis), and of the whole machine, read from /proc between two
// snapshots. A process's /proc/<pid>/stat counts every thread it ran, ended ones
// too (utime + stime, clock ticks); /proc/stat's first line is the machine's busy
// time over all cores, so what the run's processes did not use was someone else's.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { cpuMsOf } from './cpu.js';
import { round } from './figures.js';

/** Linux's USER_HZ: /proc counts CPU time in hundredths of a second on every architecture it exports to user space. */
const TICK_MS = 10;

/** The machine's busy CPU time so far over all cores (ms): /proc/stat's `cpu` line less idle and iowait. */
export function machineBusyMs(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  const line = read('/proc/stat').split('\n')[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest and guest_nice are in user and nice already).
  const busy = f.slice(0, 8).reduce((a, x, i) => (i === 3 || i === 4 ? a : a + (Number.isFinite(x) ? x : 0)), 0);
  return busy * TICK_MS;
}

/** The processes of a run by kind: each kind's CPU is the sum of its processes'. */
export type ProcessKinds = Record<string, number[]>;

export interface CpuSnapshot {
  /** CPU ms so far, by kind. */
  byKind: Record<string, number>;
  machineMs: number;
}

/** The processes of a bench:scale run by kind: the driver (this process), each coordinator, the node processes, Redis. */
export function processKinds(cl: {
  coords: readonly { p: ChildProcess }[];
  nodes: readonly { p: ChildProcess }[];
  redisPid: number | undefined;
}): ProcessKinds {
  const one = (pid: number | undefined) => (pid === undefined ? [] : [pid]);
  return {
    driver: [process.pid],
    ...Object.fromEntries(cl.coords.map((c, i) => [`coordinator${i}`, one(c.p.pid)])),
    ...nodeKinds(cl.nodes.flatMap((n) => one(n.p.pid))),
    ...(cl.redisPid === undefined ? {} : { redis: [cl.redisPid] }),
  };
}

export function cpuSnapshot(kinds: ProcessKinds): CpuSnapshot {
  const byKind: Record<string, number> = {};
  // A process gone or not readable (cpuMsOf's NaN) counts nothing.
  for (const [kind, pids] of Object.entries(kinds)) byKind[kind] = pids.reduce((a, pid) => a + (cpuMsOf(pid) || 0), 0);
  return { byKind, machineMs: machineBusyMs() };
}

/**
 * CPU ms by kind between two snapshots, and `others`: the machine's busy time the run's processes did not account
 * for (other users of the machine, the kernel's own threads). A snapshot's kinds are the first's.
 */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  let ours = 0;
  for (const [kind, ms] of Object.entries(b.byKind)) {
    out[kind] = Math.max(0, ms - (a.byKind[kind] ?? 0));
    ours += out[kind];
  }
  out.others = Math.max(0, b.machineMs - a.machineMs - ours);
  return out;
}

/**
 * `tasks` 0: an idle window (no µs a task).
 * "driver 0.41 s (20 µs a task), coordinator0 0.25 s (12 µs), ...; 1.9 of 2 cores' 2.0 s (95%)": a job's CPU by
 * process kind over `ms` of wall time on `cores` cores.
 */
export function cpuByProcessLine(cpuMs: Record<string, number>, tasks: number, ms: number, cores = availableParallelism()): string {
  const total = Object.values(cpuMs).reduce((a, x) => a + x, 0);
  const parts = Object.entries(cpuMs).map(
    ([k, x]) => `${k} ${round(x / 1000, 2)} s (${tasks > 0 ? `${round((x * 1000) / tasks, 1)} µs a task, ` : ''}${round((x / Math.max(1, total)) * 100, 0)}%)`,
  );
  return `${parts.join(', ')}; the machine busy ${round(total / 1000, 2)} s of ${cores} cores' ${round((ms * cores) / 1000, 2)} s (${round((total / Math.max(1, ms * cores)) * 100, 0)}%)`;
}

/**
 * SCALE_TICK_SLEEP=0: every simulated node ticks its heartbeat every period, as before session 32; =alternate: the
 * odd node processes do, the even ones sleep through idle ticks (the default): the two side by side in one run, their
 * CPU as two process kinds ('nodes', 'nodes ticking'), under the same load.
 */
const ALTERNATE = process.env.SCALE_TICK_SLEEP === 'alternate';
export const tickSleep = (k: number): string => (ALTERNATE ? (k % 2 === 0 ? '1' : '0') : process.env.SCALE_TICK_SLEEP === '0' ? '0' : '1');

/** The node processes' pids as one kind, or as two with SCALE_TICK_SLEEP=alternate (the sleeping and the ticking ones). */
export function nodeKinds(pids: number[]): ProcessKinds {
  if (!ALTERNATE) return { nodes: pids };
  return { nodes: pids.filter((_, k) => k % 2 === 0), 'nodes ticking': pids.filter((_, k) => k % 2 === 1) };
}
