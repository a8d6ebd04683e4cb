// CPU time of processes (Linux /proc), to say what a figure costs each process
// of a mesh: a run on a shared machine is starvation as often as cost.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100;

/** User + system CPU ms of a process so far (all its threads), or NaN when /proc cannot tell. */
export function cpuMsOf(pid: number | undefined, file = `/proc/${pid}/stat`): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(file, 'latin1');
    // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 14th and 15th.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS_PER_S;
  } catch {
    return NaN;
  }
}

/** CPU ms each named process spends while `run` runs; `self` is this process (process.cpuUsage). */
export async function cpuDuring(pids: Record<string, number | undefined>, run: () => Promise<void>): Promise<Record<string, number>> {
  const before = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p)]));
  const self0 = process.cpuUsage();
  await run();
  const self = process.cpuUsage(self0);
  const out: Record<string, number> = { driver: (self.user + self.system) / 1000 };
  for (const [k, p] of Object.entries(pids)) out[k] = cpuMsOf(p) - before[k];
  return out;
}

/** User + system CPU ms of a process's main thread and of its other threads (worker threads, libuv, V8's helpers), or NaN. */
export function threadCpuMs(pid: number): { main: number; others: number } {
  let main = NaN;
  let others = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      if (Number(tid) === pid) main = ms;
      else if (!Number.isNaN(ms)) others += ms; // a thread that ended meanwhile is not counted
    }
  } catch {
    return { main: NaN, others: NaN };
  }
  return { main, others };
}

/**
 * Chromium processes of this bench (a descendant of a browser started with one
 * of our profiles, and of this process); `profile`: of the browser started
 * with that profile folder only (one bare tab's processes).
 */
export function chromiumPids(profile = 'tabmesh-bench-chromium-'): number[] {
  const parent = new Map<number, number>();
  const ours = new Set<number>();
  for (const d of readdirSync('/proc')) {
    const pid = Number(d);
    if (!pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(profile)) ours.add(pid);
    } catch {
      // gone meanwhile
    }
  }
  const isOurs = (p: number | undefined): boolean => p !== undefined && p > 1 && (ours.has(p) || isOurs(parent.get(p)));
  // Only this process's own: other runs on the machine (other engineers' benches) use the same profile prefix.
  const mine = (p: number | undefined): boolean => p !== undefined && p > 1 && (p === process.pid || mine(parent.get(p)));
  return [...parent.keys()].filter((p) => isOurs(p) && mine(p));
}

/** CPU ms of `pids` so far (processes gone meanwhile count 0). */
export const chromiumCpuMs = (pids: number[]): number => pids.reduce((a, p) => a + (cpuMsOf(p) || 0), 0);

/**
 * CPU ms so far of every thread of `pids`, keyed "process type/thread name"
 * ("renderer/WebRTC_Network"; numbered threads of one kind summed as "…N"): where
 * a transfer's CPU goes in Chromium.
 */
export function threadsCpu(pids: number[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
      let kind = /--type=([a-z-]+)/.exec(cmdline)?.[1] ?? 'browser';
      if (kind === 'utility') kind = /--utility-sub-type=([\w.]+)/.exec(cmdline)?.[1] ?? kind;
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim().replace(/\d+$/, 'N');
        const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
        const k = `${kind}/${name}`;
        if (!Number.isNaN(ms)) out.set(k, (out.get(k) ?? 0) + ms);
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
