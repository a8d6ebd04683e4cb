// Empty tasks on a bench's mesh, as bench:tasks and bench:ray-tasks run them:
// N at once, and sequential round trips; and which processes' CPU they cost.
import type { Mesh, ObjectRef } from '../edge/index.js';
import { pollStats, type BenchCluster, type Stats } from './cluster.js';
import { nowMs } from './figures.js';

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

/** "Near 0" for the coordinator's task and object tables after everything was freed. */
const NEAR_ZERO = 10;

/** Waits until the coordinator has let go of (almost) every task and object. */
export function drained(cl: BenchCluster, timeoutMs = 30_000): Promise<{ stats: Stats; met: boolean; waitedMs: number }> {
  return pollStats(cl.url, cl.token, (s) => s.tasks <= NEAR_ZERO && s.objects <= NEAR_ZERO, { timeoutMs, everyMs: 50 });
}
