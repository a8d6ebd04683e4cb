// The mesh bus's standalone acks (issue 14, session 21): what a job over two
// coordinators costs in Redis PUBLISH calls with the ack delay at its default
// (TABMESH_MESH_ACK_MS, 40 ms) and at the values tried, in one run. Two
// coordinators on one Redis of our own for each delay (a pair a prefix), an
// edge node of 2 CPUs each, the driver on the first; the pairs' rounds are
// interleaved (40, 200, 40, 200, ...) so that the machine's load lands on all.
// Workloads: a burst of empty tasks, tasks of 30 ms, and tasks one at a time
// (each awaited before the next), whose lulls are where standalone acks go.
// A round's PUBLISH calls are both coordinators' meshFramesOut + meshAcksOut +
// meshResent (each is one PUBLISH: coordinator/mesh/bus.ts); Redis's own
// cmdstat_publish is printed beside them (it also counts the idle pairs' heartbeats).
//
//   npm run build && flock /work/scale.lock node dist/bench/mesh-acks.js
//
// MESH_ACKS_MS=40,200 (the first is the baseline), MESH_ACKS_ROUNDS=3.
import { Redis } from 'ioredis';
import { connect, type Mesh, type ObjectRef } from '../edge/index.js';
import { ownRedis } from './own-redis.js';
import { emit, figure, log, median, pollStats, round, runBench, startCluster, timeMs, type BenchCluster, type Stats } from './harness.js';

const DELAYS = (process.env.MESH_ACKS_MS ?? '40,200').split(',').map(Number);
const ROUNDS = Number(process.env.MESH_ACKS_ROUNDS ?? 3);
const COUNTED = ['meshFramesOut', 'meshAcksOut', 'meshResent'] as const;

interface Pair {
  delay: number;
  a: BenchCluster;
  b: BenchCluster;
  mesh: Mesh;
}

interface Workload {
  name: string;
  tasks: number;
  run(m: Mesh): Promise<void>;
}

const WORKLOADS: Workload[] = [
  {
    name: 'burst',
    tasks: 2000,
    run: async (m) => {
      const f = m.remote(function empty() {});
      const refs: ObjectRef<void>[] = Array.from({ length: 2000 }, () => f.remote());
      await m.get(refs);
      m.free(refs);
    },
  },
  {
    name: 'tasks30ms',
    tasks: 200,
    run: async (m) => {
      const f = m.remote(() => new Promise<void>((r) => setTimeout(r, 30)));
      const refs = Array.from({ length: 200 }, () => f.remote());
      await m.get(refs);
      m.free(refs);
    },
  },
  {
    name: 'sequential',
    tasks: 100,
    run: async (m) => {
      const f = m.remote((i: number) => i);
      for (let i = 0; i < 100; i++) await m.get(f.remote(i));
    },
  },
];

async function pair(redisUrl: string, delay: number): Promise<Pair> {
  process.env.TABMESH_MESH_ACK_MS = String(delay); // the children inherit it
  const prefix = `acks${delay}x${Date.now().toString(36)}`;
  const b = await startCluster({ nodes: 1, cpus: 2, redis: { url: redisUrl, prefix } });
  const a = await startCluster({ nodes: 1, cpus: 2, redis: { url: redisUrl, prefix } });
  for (const cl of [a, b]) await pollStats(cl.url, cl.token, (s) => (s.meshLinks ?? 0) >= 1, { timeoutMs: 20_000, everyMs: 100 });
  const mesh = await connect({ url: [a.url, b.url], token: a.token });
  return { delay, a, b, mesh };
}

function publishes(s: Stats[]): number {
  let n = 0;
  for (const x of s) for (const k of COUNTED) n += x[k] ?? 0;
  return n;
}

async function redisPublishes(r: Redis): Promise<number> {
  const info = await r.info('commandstats');
  return Number(/cmdstat_publish:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const redis = await ownRedis();
  const probe = new Redis(redis.url);
  const pairs: Pair[] = [];
  for (const d of DELAYS) pairs.push(await pair(redis.url, d));
  // One warm-up of each workload on each pair (functions measured, links warm).
  for (const p of pairs) for (const w of WORKLOADS) await w.run(p.mesh);
  // [workload][delay] -> per round: publishes per task, B's share, wall ms, redis publishes per task
  const got = new Map<string, { perTask: number[]; ownB: number[]; ms: number[]; redis: number[]; acks: number[] }>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const w of WORKLOADS) {
      const order = r % 2 === 0 ? pairs : [...pairs].reverse();
      for (const p of order) {
        const before = [await p.a.stats(), await p.b.stats()];
        const redisBefore = await redisPublishes(probe);
        const ms = await timeMs(() => w.run(p.mesh));
        // Standalone acks leave up to the delay after the last frame: wait for them before counting.
        await new Promise((res) => setTimeout(res, Math.max(...DELAYS) + 200));
        const after = [await p.a.stats(), await p.b.stats()];
        const redisAfter = await redisPublishes(probe);
        const key = `${w.name}@${p.delay}`;
        const e = got.get(key) ?? { perTask: [], ownB: [], ms: [], redis: [], acks: [] };
        e.perTask.push((publishes(after) - publishes(before)) / w.tasks);
        e.acks.push((after[0].meshAcksOut + after[1].meshAcksOut - before[0].meshAcksOut - before[1].meshAcksOut) / w.tasks);
        e.ownB.push(after[1].tasksFinished - before[1].tasksFinished);
        e.ms.push(ms);
        e.redis.push((redisAfter - redisBefore) / w.tasks);
        got.set(key, e);
        log(
          `round ${r} ${key}: ${round(e.perTask.at(-1)!, 3)} publishes/task (acks ${round(e.acks.at(-1)!, 3)}), B ran ${e.ownB.at(-1)}, ${round(ms, 1)} ms, redis ${round(e.redis.at(-1)!, 3)}/task`,
        );
      }
    }
  }
  const base = DELAYS[0];
  for (const w of WORKLOADS) {
    const b = got.get(`${w.name}@${base}`)!;
    for (const d of DELAYS) {
      const e = got.get(`${w.name}@${d}`)!;
      emit(figure(`mesh-acks ${w.name} publishes/task ack ${d}ms`, median(e.perTask), 'publishes/task', median(b.perTask)));
      emit(figure(`mesh-acks ${w.name} standalone acks/task ack ${d}ms`, median(e.acks), 'acks/task', median(b.acks)));
      emit(figure(`mesh-acks ${w.name} wall ack ${d}ms`, median(e.ms), 'ms', median(b.ms)));
      log(
        `${w.name}@${d}: per round publishes/task ${e.perTask.map((x) => round(x, 3)).join(' ')}; B ran ${e.ownB.join(' ')}; ms ${e.ms.map((x) => round(x, 0)).join(' ')}`,
      );
    }
  }
  for (const p of pairs) {
    await p.mesh.close();
    await p.a.stop();
    await p.b.stop();
  }
  probe.disconnect();
}

runBench(main);
