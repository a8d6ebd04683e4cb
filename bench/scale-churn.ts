// bench:scale's churn run (SCALE_CHURN=1, at the largest N; issue 14): 10% of
// the nodes leave and 10% join once a fifth of a job is done (exact results?
// tasks stolen for the newcomers?), then all of them drop and return (time
// until the coordinator counts them all again).
import { connect, type ObjectRef } from '../edge/index.js';
import { log, nowMs, sleep, round } from './harness.js';
import type { Cluster } from './scale-cluster.js';

export interface Churn {
  n: number;
  tasks: number;
  /** The job with 10% of the nodes leaving and 10% joining once a fifth of it is done. */
  ms: number;
  exact: boolean;
  retried: number;
  /** Tasks the coordinator asked busy nodes to hand back to idle ones (work stealing). */
  stolen: number;
  /** Newcomers mid-job whose join was refused after every retry. */
  joinFailed: number;
  /** Every node drops at once and comes back: until the coordinator counts all that rejoined. */
  backMs: number;
  /** Nodes that dropped, and how many of them could not come back. */
  dropped: number;
  backFailed: number;
  /** A job of 2,000 tasks right after: its results are exact. */
  afterExact: boolean;
}

/** Churn at N nodes (issue 14): nodes leave and join mid-job, then all of them drop and return. */
export async function churn(cl: Cluster, n: number, count: number): Promise<Churn> {
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    const double = mesh.remote(function double(i: number) {
      return i * 2;
    }) as unknown as { remote(i: number): ObjectRef<number> };
    await mesh.get(Array.from({ length: 200 }, (_, i) => double.remote(i)));
    const s0 = await cl.stats();
    const t0 = nowMs();
    const refs = Array.from({ length: count }, (_, i) => double.remote(i));
    while (((await cl.stats()).tasksFinished ?? 0) - s0.tasksFinished < count / 5) await sleep(100);
    const k = Math.round(n / 10);
    log(`N=${n}: churn: ${k} nodes leave, ${k} join`);
    const [, mid] = await Promise.all([cl.leave(k), cl.rejoin(k)]);
    const out = await mesh.get(refs);
    const ms = nowMs() - t0;
    const s1 = await cl.stats();
    mesh.free(refs);
    log(`N=${n}: churn: ${round(ms / 1000, 1)} s, ${mid.failed} newcomers refused; all ${s1.nodes} nodes drop and return`);
    // As many as are connected now (a join refused earlier is not waited for: the wait would never end).
    const all = s1.nodes;
    await cl.leaveAll();
    const t1 = nowMs();
    const back = await cl.rejoin(all);
    await cl.nodesAre(back.joined, 10 * 60_000);
    const backMs = nowMs() - t1;
    const after = Array.from({ length: 2000 }, (_, i) => double.remote(i));
    const afterOut = await mesh.get(after);
    return {
      n,
      tasks: count,
      ms,
      exact: out.every((v, i) => v === i * 2),
      retried: s1.tasksRetried - s0.tasksRetried,
      stolen: s1.rebalanceAsked - s0.rebalanceAsked,
      joinFailed: mid.failed,
      backMs,
      dropped: all,
      backFailed: back.failed,
      afterExact: afterOut.every((v, i) => v === i * 2),
    };
  } finally {
    await mesh.close();
  }
}
