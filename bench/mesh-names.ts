// What a mesh-wide actor name costs (session 38): a named actor's creation in a
// mesh waits for its claim in Redis (coordinator/mesh/actor-names.ts) before it
// is placed. Two coordinators on one Redis of our own, an edge node of 2 CPUs
// each, the driver on the first; the baseline is the same actors unnamed, in the
// same run, rounds interleaved (unnamed, named, named, unnamed, ...).
// Workloads: actors created one at a time (each's first call awaited before the
// next: the claim's round trip is all in the latency), and a burst created at once.
// An actor's start (~100 ms: an executor of its own) hides the claim in that noise,
// so the claim's script is also timed alone against a plain HGET of the same hash.
//
//   npm run build && node dist/bench/mesh-names.js
//
// MESH_NAMES_ROUNDS=4, MESH_NAMES_ACTORS=40.
import { Redis } from 'ioredis';
import { connect, type ActorHandle, type Mesh } from '../edge/index.js';
import { MeshActorNames } from '../coordinator/mesh/actor-names.js';
import { ownRedis } from './own-redis.js';
import { emit, figure, log, median, pollStats, round, runBench, startCluster, timeMs } from './harness.js';

const ROUNDS = Number(process.env.MESH_NAMES_ROUNDS ?? 4);
const ACTORS = Number(process.env.MESH_NAMES_ACTORS ?? 40);

class Counter {
  n = 0;
  inc(): number {
    return ++this.n;
  }
}

type Kind = 'unnamed' | 'named';
let serial = 0;

/** `n` actors (named or not), their first call awaited one by one or all at once; killed after. */
async function actors(m: Mesh, kind: Kind, n: number, oneByOne: boolean): Promise<number> {
  const made: ActorHandle<Counter>[] = [];
  const make = () => {
    const cls = m.remote(Counter);
    const h = (kind === 'named' ? cls.options({ name: `bench-${serial++}` }) : cls).remote();
    made.push(h);
    return h;
  };
  const ms = await timeMs(async () => {
    if (oneByOne) for (let i = 0; i < n; i++) await m.get(make().inc.remote());
    else await m.get(Array.from({ length: n }, () => make().inc.remote()));
  });
  for (const h of made) m.kill(h);
  return ms;
}

async function main(): Promise<void> {
  const redis = await ownRedis();
  const prefix = `names${Date.now().toString(36)}`;
  const b = await startCluster({ nodes: 1, cpus: 2, redis: { url: redis.url, prefix } });
  const a = await startCluster({ nodes: 1, cpus: 2, redis: { url: redis.url, prefix } });
  for (const cl of [a, b]) await pollStats(cl.url, cl.token, (s) => (s.meshLinks ?? 0) >= 1, { timeoutMs: 20_000, everyMs: 100 });
  const m = await connect({ url: a.url, token: a.token });
  for (const kind of ['unnamed', 'named'] as const) await actors(m, kind, 10, true); // warm-up
  const got: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const oneByOne of [true, false]) {
      const order: Kind[] = r % 2 === 0 ? ['unnamed', 'named'] : ['named', 'unnamed'];
      for (const kind of order) {
        const ms = await actors(m, kind, ACTORS, oneByOne);
        const key = `${oneByOne ? 'sequential' : 'burst'} ${kind}`;
        (got[key] ??= []).push(ms);
        log(`round ${r} ${key}: ${ACTORS} actors in ${round(ms, 1)} ms`);
      }
    }
  }
  for (const w of ['sequential', 'burst']) {
    const base = median(got[`${w} unnamed`]) / ACTORS;
    emit(figure(`mesh-names ${w} ms/actor unnamed`, base, 'ms/actor'));
    emit(figure(`mesh-names ${w} ms/actor named`, median(got[`${w} named`]) / ACTORS, 'ms/actor', base));
  }
  await m.close();
  await a.stop();
  await b.stop();
  await claimAlone(redis.url);
}

/** The claim script's round trip (one at a time, then a claim and a release a name), against a plain HGET. */
async function claimAlone(url: string): Promise<void> {
  const r = new Redis(url);
  const names = new MeshActorNames(r, 'alone', 'c0ffee', 24_000);
  const N = 2000;
  const hget: number[] = [];
  const claim: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    hget.push(
      await timeMs(async () => {
        for (let i = 0; i < N; i++) await r.hget('alone:{mesh}:actor-names', `\u0000n${i}`);
      }),
    );
    claim.push(
      await timeMs(async () => {
        for (let i = 0; i < N; i++) {
          await names.claim('', `n${i}`, 'ab12');
          await names.release('', `n${i}`, 'ab12');
        }
      }),
    );
  }
  const base = (median(hget) / N) * 1000;
  emit(figure('mesh-names HGET round trip', base, 'us'));
  emit(figure('mesh-names claim + release round trips', (median(claim) / N) * 1000, 'us', base));
  r.disconnect();
}

runBench(main);
