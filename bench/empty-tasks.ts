// Empty tasks on a bench's mesh, as bench:tasks and bench:ray-tasks run them:
// N at once, and sequential round trips; and which processes' CPU they cost.
import type { Mesh, ObjectRef } from '../edge/index.js';
import { pollStats, type BenchCluster, type Stats } from './cluster.js';
import { nowMs, round } from './figures.js';
import { cpuSince, runMsSplit, sleepsOf } from './cpu.js';

export type Noop = { remote(): ObjectRef<void> };

/** `n` tasks at once, got; their refs, still held. */
export async function emptyBatch(mesh: Mesh, noop: Noop, n: number): Promise<ObjectRef<void>[]> {
  const refs: ObjectRef<void>[] = [];
  for (let i = 0; i < n; i++) refs.push(noop.remote());
  await mesh.get(refs);
  return refs;
}

/** `n` round trips one after the other (submit, get, free); each one's ms goes into `into`. */
export async function roundTrips(mesh: Mesh, noop: Noop, n: number, into: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t = nowMs();
    const r = noop.remote();
    await mesh.get(r);
    into.push(nowMs() - t);
    mesh.free(r);
  }
}

/** The mesh's processes whose CPU a figure counts, by name (the driver, this process, is cpuSince's `driver`). */
export function meshPids(cl: BenchCluster): Record<string, number | undefined> {
  return { coordinator: cl.coordinator.proc.pid, node: cl.nodes[0].proc.pid };
}

/** The sum of a cpuSince reading: CPU ms of every process counted. */
export const cpuTotal = (r: Record<string, number>): number => Object.values(r).reduce((a, b) => a + b, 0);

/**
 * What crossed the coordinator per task between two /api/stats readings over `tasks` tasks, from its traffic
 * counters (coordinator/traffic.ts): messages by kind in and out, frames, node re-filings. Issue 14 asks for fewer
 * messages per task: this is where the count is.
 */
export function trafficPerTask(before: Stats, after: Stats, tasks: number): string {
  const parts: string[] = [];
  for (const k of Object.keys(after)) {
    if (!k.startsWith('traffic.')) continue;
    const d = after[k] - (before[k] ?? 0);
    if (d > 0) parts.push(`${k.slice('traffic.'.length)} ${round(d / tasks, 3)}`);
  }
  return parts.join(', ');
}

/** "Near 0" for the coordinator's task and object tables after everything was freed. */
const NEAR_ZERO = 10;

/** Waits until the coordinator has let go of (almost) every task and object. */
export function drained(cl: BenchCluster, timeoutMs = 30_000): Promise<{ stats: Stats; met: boolean; waitedMs: number }> {
  return pollStats(cl.url, cl.token, (s) => s.tasks <= NEAR_ZERO && s.objects <= NEAR_ZERO && (s.groups ?? 0) <= NEAR_ZERO, { timeoutMs, everyMs: 50 });
}

/**
 * What a sequential task costs each process of the mesh (this one is `driver`), summed over the spans `during`
 * measures: CPU, of it the main thread's (the rest: a node's executor, V8's helper threads), and thread sleeps, each
 * one a wake-up (bench:tasks' latency phase, issue 14). Unlike latencies, all mean the same under load.
 */
export class PathCost {
  private readonly cpu: Record<string, number> = {};
  private readonly mainCpu: Record<string, number> = {};
  private readonly sleeps: Record<string, number> = {};

  constructor(private readonly pids: Record<string, number | undefined>) {}

  async during(run: () => Promise<void>): Promise<void> {
    const spent = cpuSince(this.pids);
    const before = this.sleepsNow();
    const main0 = this.mainNow();
    await run();
    for (const [k, v] of Object.entries(spent())) this.cpu[k] = (this.cpu[k] ?? 0) + v;
    const after = this.sleepsNow();
    for (const k of Object.keys(after)) this.sleeps[k] = (this.sleeps[k] ?? 0) + after[k] - before[k];
    const main1 = this.mainNow();
    for (const k of Object.keys(main1)) this.mainCpu[k] = (this.mainCpu[k] ?? 0) + main1[k] - main0[k];
  }

  /** Per task of `n`: CPU µs (main thread's) and sleeps of each process. */
  describe(n: number): string {
    const us = (v: number) => round((v / n) * 1000, 0);
    const cpu = Object.entries(this.cpu)
      .map(([k, v]) => `${k} ${us(v)} (main thread ${us(this.mainCpu[k] ?? NaN)})`)
      .join(', ');
    const sleeps = Object.entries(this.sleeps)
      .map(([k, v]) => `${k} ${round(v / n, 2)}`)
      .join(', ');
    return `CPU µs ${cpu}; thread sleeps (wake-ups) ${sleeps}`;
  }

  private sleepsNow(): Record<string, number> {
    const out: Record<string, number> = { driver: sleepsOf(process.pid) };
    for (const [k, p] of Object.entries(this.pids)) out[k] = sleepsOf(p);
    return out;
  }

  private mainNow(): Record<string, number> {
    const out: Record<string, number> = { driver: runMsSplit(process.pid).main };
    for (const [k, p] of Object.entries(this.pids)) out[k] = runMsSplit(p).main;
    return out;
  }
}

/**
 * Waits until the mesh's processes (and this one) are quiet: their CPU over a 250 ms window under `quietPct` of
 * one core, at most `maxMs`. A phase that times one path (sequential round trips) otherwise measures the previous
 * phase's residue too: after phase (a)'s 180,000 tasks each process's V8 helper threads spent 80-100 µs a
 * sequential task finishing the batches' garbage collection (session 24), 20 in a steady run.
 */
export async function settled(pids: Record<string, number | undefined>, quietPct = 5, maxMs = 10_000): Promise<{ waitedMs: number; lastPct: number }> {
  const t0 = nowMs();
  let lastPct = Infinity;
  while (nowMs() - t0 < maxMs) {
    const spent = cpuSince(pids);
    await new Promise((r) => setTimeout(r, 250));
    lastPct = (cpuTotal(spent()) / 250) * 100;
    if (lastPct < quietPct) break;
  }
  return { waitedMs: nowMs() - t0, lastPct };
}
