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
  /** The return in counts (a loaded machine stretches its time, session 14: 1,045 s). */
  storm: Storm;
}

/** What the all-drop return met: counted, not timed. */
export interface Storm {
  /** Until every node process's join loop ended (the rest of backMs is the coordinator counting them). */
  joinedMs: number;
  /** The wait for the coordinator's count to equal the nodes connected ended by its timeout. */
  timedOut: boolean;
  /** Nodes the coordinator counted a second, sampled while they came back: the best and the worst full second. */
  joinsPerSecMax: number;
  joinsPerSecMin: number;
  seconds: number;
  /** Nodes dropped without leaving while they came back (the coordinator declared them silent, or closed them). */
  dropped: number;
  lostSilent: number;
  /** Limit breaches on the coordinator and failed join attempts on the nodes' side, by code or why. */
  breaches: Record<string, number>;
  refusals: Record<string, number>;
}

const delta = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(Object.entries(b).flatMap(([k, v]) => (v - (a[k] ?? 0) > 0 ? [[k, v - (a[k] ?? 0)]] : [])));
const breachesOf = (s: Record<string, number>) => Object.fromEntries(Object.entries(s).filter(([k]) => k.startsWith('limit_')));

/** Every node drops at once and comes back: times and counts until the coordinator counts every node connected. */
async function storm(cl: Cluster, all: number): Promise<{ back: { joined: number; failed: number }; backMs: number; storm: Storm }> {
  await cl.leaveAll();
  const c0 = await cl.census();
  // Every coordinator's count (SCALE_COORDINATORS, or 20,000 nodes over two): the nodes come back to any of them.
  const s0 = await cl.meshStats();
  const t1 = nowMs();
  // The coordinator's count each second while they come back (its own loop answers: a starved one answers late).
  const counts: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await cl.meshStats().catch(() => null);
      if (s) counts.push(s.nodes);
      await sleep(1000);
    }
  })();
  const back = await cl.rejoin(all);
  const joinedMs = nowMs() - t1;
  // Until the coordinator counts exactly the nodes connected (a node dropped meanwhile is not waited for).
  let timedOut = true;
  const end = nowMs() + 10 * 60_000;
  while (nowMs() < end) {
    const [c, s] = await Promise.all([cl.census(), cl.meshStats().catch(() => null)]);
    if (s && s.nodes === c.alive) {
      timedOut = false;
      break;
    }
    await sleep(200);
  }
  const backMs = nowMs() - t1;
  sampling = false;
  await sampler;
  const [c1, s1] = [await cl.census(), await cl.meshStats()];
  const rates = counts.slice(1).map((n, i) => n - counts[i]);
  const full = rates.filter((_, i) => counts[i + 1] < back.joined);
  return {
    back,
    backMs,
    storm: {
      joinedMs,
      timedOut,
      joinsPerSecMax: Math.max(0, ...rates),
      joinsPerSecMin: full.length ? Math.min(...full) : 0,
      seconds: counts.length,
      dropped: c1.dropped - c0.dropped,
      lostSilent: s1.nodesLostSilent - s0.nodesLostSilent,
      breaches: delta(breachesOf(s0), breachesOf(s1)),
      refusals: delta(c0.refusals, c1.refusals),
    },
  };
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
    const m0 = await cl.meshStats();
    const t0 = nowMs();
    const refs = Array.from({ length: count }, (_, i) => double.remote(i));
    while (((await cl.stats()).tasksFinished ?? 0) - s0.tasksFinished < count / 5) await sleep(100);
    const k = Math.round(n / 10);
    log(`N=${n}: churn: ${k} nodes leave, ${k} join`);
    const [, mid] = await Promise.all([cl.leave(k), cl.rejoin(k)]);
    const out = await mesh.get(refs);
    const ms = nowMs() - t0;
    // The mesh's counts: nodes, retries and asks of every coordinator (the driver's first counts the job's progress above).
    const s1 = await cl.meshStats();
    mesh.free(refs);
    log(`N=${n}: churn: ${round(ms / 1000, 1)} s, ${mid.failed} newcomers refused; all ${s1.nodes} nodes drop and return`);
    // As many as are connected now (a join refused earlier is not waited for: the wait would never end).
    const all = s1.nodes;
    const { back, backMs, storm: st } = await storm(cl, all);
    const after = Array.from({ length: 2000 }, (_, i) => double.remote(i));
    const afterOut = await mesh.get(after);
    return {
      n,
      tasks: count,
      ms,
      exact: out.every((v, i) => v === i * 2),
      retried: s1.tasksRetried - m0.tasksRetried,
      stolen: s1.rebalanceAsked - m0.rebalanceAsked,
      joinFailed: mid.failed,
      backMs,
      dropped: all,
      backFailed: back.failed,
      afterExact: afterOut.every((v, i) => v === i * 2),
      storm: st,
    };
  } finally {
    await mesh.close();
  }
}
