// Actor benchmarks (issue 5): calls per second to one actor, and sync call
// latency, against the same calls to a stateful function in one piscina
// worker (baseline), in one run.
//
//   npm run build && npm run bench:actors
//
// A coordinator and one edge node (2 executors) run as child processes; this
// process is the driver. stdout: one JSON line per figure; stderr: diagnostics.
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { connect, type Mesh } from '../edge/index.js';
import { emit, figure, interleaved, log, nowMs, percentile, round, startCluster, type BenchCluster, runBench } from './harness.js';

const CALLS = 10_000;
const ROUNDS = 3;
const LATENCY_CALLS = 2_000;
const WORKER_FILE = fileURLToPath(new URL('./counter-worker.js', import.meta.url));

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
}

async function main(): Promise<void> {
  let cl: BenchCluster | null = null;
  let mesh: Mesh | null = null;
  const pool = new Piscina({ filename: WORKER_FILE, minThreads: 1, maxThreads: 1 });
  try {
    cl = await startCluster({ nodes: 1, cpus: 2 });
    mesh = await connect({ url: cl.url, token: cl.token });
    const m = mesh;
    const counter = m.remote(Counter).remote();
    // Warm-up: the actor and the pool.
    await m.get(Array.from({ length: 1000 }, () => counter.inc.remote()));
    await Promise.all(Array.from({ length: 1000 }, () => pool.run(null)));

    log(`(a) ${CALLS} async calls at once to one actor vs one piscina worker, best of ${ROUNDS}`);
    const times = await interleaved(ROUNDS, {
      tabmesh: async () => {
        const refs = Array.from({ length: CALLS }, () => counter.inc.remote());
        await m.get(refs);
        m.free(refs);
      },
      piscina: async () => {
        await Promise.all(Array.from({ length: CALLS }, () => pool.run(null)));
      },
    });
    const best = (xs: number[]) => (CALLS / Math.min(...xs)) * 1000;
    log(`rounds ms: tabmesh ${times.tabmesh.map((x) => round(x, 0))}, piscina ${times.piscina.map((x) => round(x, 0))}`);
    emit(figure('actors.calls_per_s', best(times.tabmesh), 'calls/s', best(times.piscina)));

    log(`(b) ${LATENCY_CALLS} sequential calls each, alternating blocks of 250`);
    const tm: number[] = [];
    const pi: number[] = [];
    for (let done = 0; done < LATENCY_CALLS; done += 250) {
      for (let i = 0; i < 250; i++) {
        const t = nowMs();
        const r = counter.inc.remote();
        await m.get(r);
        tm.push(nowMs() - t);
        m.free(r);
      }
      for (let i = 0; i < 250; i++) {
        const t = nowMs();
        await pool.run(null);
        pi.push(nowMs() - t);
      }
    }
    emit(figure('actors.sync_call.p50', percentile(tm, 50), 'ms', percentile(pi, 50)));
    log(`p99: tabmesh ${round(percentile(tm, 99))} ms, piscina ${round(percentile(pi, 99))} ms`);
  } finally {
    await mesh?.close().catch(() => {});
    await pool.destroy().catch(() => {});
    await cl?.stop();
  }
}

runBench(main);
