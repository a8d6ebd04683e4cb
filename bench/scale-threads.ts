// bench:scale's idle window by thread (issue 14, session 32): a coordinator's idle CPU is its loop thread's, its GCS
// storage thread's (Redis or SQLite writer), V8's helpers' (GC, compiler) and libuv's; a mesh adds Redis's own
// process. Read from /proc (Linux; elsewhere nothing is reported) at the window's ends, in clock ticks.
import { readdirSync, readFileSync } from 'node:fs';
import { cpuMsOf } from './cpu.js';
import { log } from './harness.js';

/** Clock ticks a second (USER_HZ: 100 on Linux, whatever the kernel's HZ). */
const TICKS_PER_S = 100;

/** CPU ticks (user + system) of each thread of a process, with its name; empty when /proc cannot tell. */
export type ThreadTicks = Map<number, { name: string; ticks: number }>;

export function threadTicks(pid: number | undefined): ThreadTicks {
  const out: ThreadTicks = new Map();
  if (pid === undefined) return out;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const ms = cpuMsOf(Number(tid), `/proc/${pid}/task/${tid}/stat`);
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'latin1').trim();
      if (!Number.isNaN(ms)) out.set(Number(tid), { name, ticks: Math.round(ms / (1000 / TICKS_PER_S)) });
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/**
 * A thread's part: the process's first thread is its loop (`main`). Node names every thread of its own `node` (V8's
 * helpers, GC marking and sweeping and compiling, libuv's pool, a worker's loop: the GCS storage thread), so the
 * others go by their place after the first (`+4`: its thread id less the process's); a coordinator's storage thread
 * is started last, after V8's and libuv's (a Redis GCS: the largest offset of the list, bar a later libuv thread).
 */
function partOf(pid: number, tid: number, name: string): string {
  if (tid === pid) return 'main';
  return name === 'node' ? `+${tid - pid}` : name;
}

/** Percent of one core by part over `ms`, largest first, and their sum; threads that spent nothing are left out. */
export function threadParts(pid: number, a: ThreadTicks, b: ThreadTicks, ms: number): { parts: [string, number][]; total: number } {
  const by = new Map<string, number>();
  for (const [tid, t] of b) {
    const d = t.ticks - (a.get(tid)?.ticks ?? 0);
    if (d <= 0) continue;
    const part = partOf(pid, tid, t.name);
    by.set(part, (by.get(part) ?? 0) + d);
  }
  const pct = (ticks: number) => (ticks / TICKS_PER_S / (ms / 1000)) * 100;
  const parts = [...by].map(([k, d]): [string, number] => [k, pct(d)]).sort((x, y) => y[1] - x[1]);
  return { parts, total: parts.reduce((s, [, x]) => s + x, 0) };
}

/** `main 2.10%, +34 0.40%, +5 0.30%` (one tick is 1 / (ms / 10) percent: 0.05% over 20 s). */
export function partsLine(parts: [string, number][]): string {
  return parts.length ? parts.map(([k, x]) => `${k} ${x.toFixed(2)}%`).join(', ') : 'nothing';
}

/** Starts counting the threads of `pids` (coordinators, then Redis); `read` at the window's end, `log` its lines. */
export function threadsSince(pids: (number | undefined)[]): () => (what: string, ms: number) => void {
  const a = pids.map(threadTicks);
  return () => {
    const b = pids.map(threadTicks);
    return (what, ms) => threadLines(what, pids, a, b, ms);
  };
}

/** Each coordinator's idle CPU by thread, and Redis's (bench/scale-threads.ts; Linux only). */
function threadLines(what: string, pids: (number | undefined)[], a: ThreadTicks[], b: ThreadTicks[], ms: number): void {
  pids.forEach((pid, i) => {
    if (pid === undefined || b[i].size === 0) return;
    const { parts, total } = threadParts(pid, a[i], b[i], ms);
    const who = i === pids.length - 1 ? 'Redis' : `coordinator ${i}${i === 0 ? " (the driver's)" : ''}`;
    log(`${what}: ${who} by thread (/proc, 10 ms ticks): ${total.toFixed(2)}%: ${partsLine(parts.slice(0, 6))}`);
  });
}
