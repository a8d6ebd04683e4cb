// tabmesh beside Ray on empty tasks (issue 14), in one run: the sequential
// round trip (`ray.get(f.remote())` in a loop) and N tasks at once
// (`ray.get([f.remote() for ...])`), Ray with num_cpus=2, tabmesh with a
// coordinator and one edge node of 2 executors. Ray runs in a Python child
// that takes one command a line, so that its rounds interleave with
// tabmesh's; the CPU of each side is every process it runs (Ray: the Python
// driver, its GCS, raylet and workers; tabmesh: this driver, the coordinator,
// the node with its executors). Without a Python with `ray` it says so and stops.
//
//   npm run build && npm run bench:ray-tasks
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { connect, type Mesh } from '../edge/index.js';
import { emit, figure, log, median, nowMs, ownChild, pairedFigure, percentile, round, runBench, startCluster } from './harness.js';
import { cpuSince, treeCpuMs, treeCpuSpent } from './cpu.js';
import { noRay, rayPython } from './ray.js';
import { cpuTotal, drained, emptyBatch, meshPids, roundTrips, type Noop } from './empty-tasks.js';

const BATCH_TASKS = 10_000;
const BATCH_ROUNDS = 5;
const SEQ_TASKS = 2_000;
const SEQ_BLOCK = 250; // tabmesh and Ray alternate in blocks of this many round trips

/** Ray's side: `batch N` and `seq N` answer one JSON line each; end of input ends it. */
const RAY_SCRIPT = `
import json, sys, time, ray
ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
@ray.remote
def noop(): return None
ray.get([noop.remote() for _ in range(2000)])
for _ in range(200): ray.get(noop.remote())
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd, n = line.split(); n = int(n)
    if cmd == "batch":
        t = time.perf_counter(); refs = [noop.remote() for _ in range(n)]; ray.get(refs); ms = (time.perf_counter() - t) * 1000
        del refs
        print(json.dumps({"ms": ms}), flush=True)
    elif cmd == "seq":
        lat = []
        for _ in range(n):
            t = time.perf_counter(); ray.get(noop.remote()); lat.append((time.perf_counter() - t) * 1000)
        print(json.dumps({"lat": lat}), flush=True)
ray.shutdown()
`;

interface RaySide {
  /** Sends one command and resolves with its answer and the CPU ms Ray's processes spent meanwhile. */
  ask<T>(cmd: string): Promise<{ answer: T; cpuMs: number }>;
  end(): Promise<void>;
}

async function startRay(py: string): Promise<RaySide> {
  const proc = spawn(py, ['-c', RAY_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'] });
  ownChild(proc);
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<unknown> => {
    const r = await lines.next();
    if (r.done) throw new Error(`ray's process ended (exit ${proc.exitCode})`);
    return JSON.parse(r.value) as unknown;
  };
  await next(); // ready: Ray is up and its workers warm
  const root = proc.pid!;
  return {
    async ask<T>(cmd: string) {
      const before = treeCpuMs(root);
      proc.stdin.write(cmd + '\n');
      const answer = (await next()) as T;
      return { answer, cpuMs: treeCpuSpent(before, treeCpuMs(root)) };
    },
    async end() {
      proc.stdin.end();
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

async function main(): Promise<void> {
  const py = rayPython();
  if (!py) return log(noRay('ray'));
  log(`starting Ray (${py}) and a tabmesh coordinator + 1 edge node, 2 CPUs each (load ${loadavg()[0].toFixed(1)})`);
  const ray = await startRay(py);
  const cl = await startCluster({ nodes: 1, cpus: 2 });
  let mesh: Mesh | null = null;
  try {
    const m = (mesh = await connect({ url: cl.url, token: cl.token }));
    const noop = m.remote(function noop() {}) as Noop;
    m.free(await emptyBatch(m, noop, 2000));
    await roundTrips(m, noop, 200, []);

    // ------------------------------------------------ sequential round trips
    log(`sequential: ${SEQ_TASKS} round trips each, alternating blocks of ${SEQ_BLOCK}`);
    const tmLat: number[] = [];
    const rayLat: number[] = [];
    let tmSeqCpu = 0;
    let raySeqCpu = 0;
    for (let done = 0; done < SEQ_TASKS; done += SEQ_BLOCK) {
      const spent = cpuSince(meshPids(cl));
      await roundTrips(m, noop, SEQ_BLOCK, tmLat);
      tmSeqCpu += cpuTotal(spent());
      const { answer, cpuMs } = await ray.ask<{ lat: number[] }>(`seq ${SEQ_BLOCK}`);
      rayLat.push(...answer.lat);
      raySeqCpu += cpuMs;
    }
    const p = (xs: number[]) => `p50 ${round(percentile(xs, 50))} p90 ${round(percentile(xs, 90))} p99 ${round(percentile(xs, 99))}`;
    log(`round trip ms: tabmesh ${p(tmLat)}; Ray ${p(rayLat)} (load ${loadavg()[0].toFixed(1)})`);
    log(
      `CPU ms per 1,000 sequential tasks, all processes: tabmesh ${round(tmSeqCpu / (SEQ_TASKS / 1000), 0)}, Ray ${round(raySeqCpu / (SEQ_TASKS / 1000), 0)}`,
    );
    emit(figure('ray.tasks.latency.p50', percentile(tmLat, 50), 'ms', percentile(rayLat, 50)));
    emit(figure('ray.tasks.latency.p99', percentile(tmLat, 99), 'ms', percentile(rayLat, 99)));
    emit(figure('ray.tasks.sequential.cpu_ms_per_1000', tmSeqCpu / (SEQ_TASKS / 1000), 'ms', raySeqCpu / (SEQ_TASKS / 1000)));

    // ------------------------------------------------ N tasks at once
    log(`throughput: ${BATCH_TASKS} tasks at once, ${BATCH_ROUNDS} interleaved rounds each in alternating order`);
    const tm: number[] = [];
    const rt: number[] = [];
    const tmCpu: number[] = [];
    const rayCpu: number[] = [];
    const perS = (ms: number) => (BATCH_TASKS / ms) * 1000;
    const per1000 = (ms: number) => (ms / BATCH_TASKS) * 1000;
    for (let r = 0; r < BATCH_ROUNDS; r++) {
      const runTabmesh = async () => {
        const spent = cpuSince(meshPids(cl));
        const t = nowMs();
        const refs = await emptyBatch(m, noop, BATCH_TASKS);
        tm.push(perS(nowMs() - t));
        m.free(refs);
        // Its CPU counts until the coordinator has freed the round's tasks (Ray's driver frees its refs within its round).
        const d = await drained(cl);
        if (!d.met) log(`WARNING: the coordinator still holds ${d.stats.tasks} tasks, ${d.stats.objects} objects`);
        tmCpu.push(per1000(cpuTotal(spent())));
      };
      const runRay = async () => {
        const { answer, cpuMs } = await ray.ask<{ ms: number }>(`batch ${BATCH_TASKS}`);
        rt.push(perS(answer.ms));
        rayCpu.push(per1000(cpuMs));
      };
      if (r % 2 === 0) {
        await runTabmesh();
        await runRay();
      } else {
        await runRay();
        await runTabmesh();
      }
      log(
        `round ${r + 1}: tabmesh ${Math.round(tm[r])} tasks/s (${round(tmCpu[r], 1)} CPU ms per 1,000), Ray ${Math.round(rt[r])} tasks/s (${round(rayCpu[r], 1)}) (load ${loadavg()[0].toFixed(1)})`,
      );
    }
    log(`medians: tabmesh ${Math.round(median(tm))} tasks/s, Ray ${Math.round(median(rt))} tasks/s`);
    emit(pairedFigure('ray.tasks.throughput', tm, rt, 'tasks/s'));
    emit(pairedFigure('ray.tasks.cpu_ms_per_1000', tmCpu, rayCpu, 'ms'));
  } finally {
    await mesh?.close().catch(() => {});
    await cl.stop();
    await ray.end();
  }
}

runBench(main);
