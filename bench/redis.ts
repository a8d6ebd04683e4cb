// GCS backends compared (issue 15): throughput of 20,000 empty tasks with the
// memory GCS, SQLite and Redis, one coordinator and one edge node each; then
// two coordinators on one Redis (one mesh), each with its own edge node, the
// driver on the first ('two'), or a driver on each, both jobs placing on both
// nodes ('two-jobs'), against the one-coordinator Redis mesh; a pair whose
// first coordinator has no node ('forward': what forwarding every task costs
// it, against the one coordinator running them on its node); then the time
// from SIGKILL of the driver's coordinator to its first task finished through
// the other. Beside each wall-time figure, the capacity its CPU times imply
// with a core per process (capacity.ts): what two coordinators on machines of
// their own would give, which a shared 2-core machine cannot show in wall time.
//
//   npm run build && npm run bench:redis
//
// The three meshes run side by side (child processes) and their rounds are
// interleaved (memory, SQLite, Redis, memory, ...) so that the noise of a
// shared machine lands on all of them; the best round of each counts.
// Redis is Debian's redis-server started here on a free loopback port with
// AOF on (appendfsync everysec, the production setting), or REDIS_URL.
// stdout: one JSON line per figure; stderr: diagnostics.
// For profiling: BENCH_REDIS_ONLY=redis,two runs only those contenders (the
// ratios need their baselines: memory for SQLite/Redis, redis for two,
// two-jobs and forward);
// BENCH_REDIS_ROUNDS=N; BENCH_REDIS_FAILOVER=0 skips the SIGKILL (so that
// BENCH_CPU_PROF, see processes.ts, gets every coordinator's profile).
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { connect, type Mesh, type ObjectRef } from '../edge/index.js';
import { cpuDuring } from './cpu.js';
import { bestCapacity, cpuLine, perThousand } from './capacity.js';
import { ownRedis } from './own-redis.js';
import { emit, figure, interleaved, log, pollStats, round, runBench, startCluster, type BenchCluster } from './harness.js';

const TASKS = 20_000;
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 3);
const ONLY = new Set((process.env.BENCH_REDIS_ONLY ?? 'memory,sqlite,redis,two,two-jobs,forward').split(','));
const WARMUP = 2_000;
const CPUS = 2;
const TARGET = 0.7;
const TARGET_TWO = 1.6;
const TARGET_FAILOVER_MS = 2000;

type Noop = { remote(): ObjectRef<void> };

/** A driver of a contender: its connection and the no-op function it submits. */
interface Driver {
  mesh: Mesh;
  noop: Noop;
}

interface Contender {
  name: string;
  cl: BenchCluster;
  /** One driver, or ('two-jobs') one on each coordinator, each submitting an equal share of a round's tasks. */
  drivers: Driver[];
  /** The processes whose CPU time a round counts (besides the drivers, this process). */
  pids: Record<string, number | undefined>;
  /** CPU ms of each process, per timed round. */
  cpu: Record<string, number>[];
  /** 'two', 'two-jobs': the second coordinator (tasks each coordinator finished are counted per round). */
  second?: BenchCluster;
}

async function driver(url: string[], token: string): Promise<Driver> {
  const mesh = await connect({ url, token, reconnectTimeoutMs: 60_000 });
  const noop = mesh.remote(function noop() {}) as Noop;
  const refs: ObjectRef<void>[] = [];
  for (let i = 0; i < WARMUP; i++) refs.push(noop.remote());
  await mesh.get(refs);
  mesh.free(refs);
  return { mesh, noop };
}

/** A contender; with `second`, a mesh of two coordinators, and (`driverOnSecond`) a driver on the second one too. */
async function contender(name: string, cl: BenchCluster, redisPid: number | undefined, second?: BenchCluster, driverOnSecond = false): Promise<Contender> {
  const also = second ? [second.url] : [];
  const drivers = [await driver([cl.url, ...also], cl.token)];
  if (second && driverOnSecond) drivers.push(await driver([second.url, cl.url], second.token));
  const pids: Record<string, number | undefined> = { coordinator: cl.coordinator.proc.pid, node: cl.nodes[0]?.proc.pid };
  if (second) Object.assign(pids, { coordinator2: second.coordinator.proc.pid, node2: second.nodes[0]?.proc.pid });
  pids.redis = redisPid;
  return { name, cl, drivers, pids, cpu: [], second };
}

/** One timed round: TASKS empty tasks, split evenly between the contender's drivers, all submitted at once. */
async function batch(c: Contender): Promise<void> {
  const cpu = await cpuDuring(c.pids, async () => {
    await Promise.all(
      c.drivers.map(async (d) => {
        const refs: ObjectRef<void>[] = [];
        for (let i = 0; i < TASKS / c.drivers.length; i++) refs.push(d.noop.remote());
        await d.mesh.get(refs);
        d.mesh.free(refs);
      }),
    );
  });
  c.cpu.push(cpu);
}

async function main(): Promise<void> {
  const redis = process.env.REDIS_URL ? { url: process.env.REDIS_URL, proc: null } : await ownRedis();
  log(`Redis: ${redis.url}${redis.proc ? ' (our own redis-server, AOF everysec)' : ' (REDIS_URL)'}`);
  const all: Contender[] = [];
  const extra: BenchCluster[] = [];
  try {
    const prefix = `bench${Date.now().toString(36)}`;
    const rp = redis.proc?.pid;
    if (ONLY.has('memory')) all.push(await contender('memory', await startCluster({ nodes: 1, cpus: CPUS }), undefined));
    if (ONLY.has('sqlite')) all.push(await contender('sqlite', await startCluster({ nodes: 1, cpus: CPUS, durable: true }), undefined));
    if (ONLY.has('redis')) all.push(await contender('redis', await startCluster({ nodes: 1, cpus: CPUS, redis: { url: redis.url, prefix } }), rp));
    // 'two' and 'two-jobs' share one pair of coordinators; 'forward' has a pair of its own (no node on the first).
    const shared = ['two', 'two-jobs'].filter((n) => ONLY.has(n));
    if (shared.length) await startTwo(redis.url, rp, `${prefix}two`, 1, shared, all, extra);
    if (ONLY.has('forward')) await startTwo(redis.url, rp, `${prefix}fwd`, 0, ['forward'], all, extra);
    log(
      `${all.length} contenders up (1 coordinator + 1 edge node with ${CPUS} executors each; 'two', 'two-jobs', 'forward': 2 such on one Redis, forward's first without a node); ${ROUNDS} interleaved rounds of ${TASKS} empty tasks`,
    );

    probe = new Redis(redis.url);
    for (const c of all) await countsOfEach(c); // the warm-ups'
    const times = await interleaved(ROUNDS, Object.fromEntries(all.map((c) => [c.name, () => batch(c)])) as Record<string, () => Promise<void>>, {
      after: async (name, r, ms) => {
        const c = all.find((x) => x.name === name)!;
        // Untimed: let the coordinators finish freeing before the next timed round.
        const d = await pollStats(c.cl.url, c.cl.token, (s) => s.tasks <= 10 && s.objects <= 10, { timeoutMs: 30_000, everyMs: 50 });
        if (c.second) await pollStats(c.second.url, c.second.token, (s) => s.tasks <= 10 && s.objects <= 10, { timeoutMs: 30_000, everyMs: 50 });
        const ran = await countsOfEach(c);
        log(
          `round ${r + 1} ${name}: ${round(ms, 0)} ms = ${Math.round((TASKS / ms) * 1000)} tasks/s (${d.met ? 'drained' : 'NOT drained'} in ${round(d.waitedMs, 0)} ms; load ${loadavg()[0].toFixed(1)})${ran}; ${cpuLine(c.cpu[r], TASKS, c.drivers.length)}`,
        );
      },
    });
    report(times, all);
    const two = all.find((c) => c.name === 'two') ?? all.find((c) => c.name === 'two-jobs') ?? all.find((c) => c.name === 'forward');
    if (two && process.env.BENCH_REDIS_FAILOVER !== '0') {
      const failover = await failoverMs(two);
      emit(figure('mesh.failover.first-task-ms', failover, 'ms'));
      log(`SIGKILL of the driver's coordinator -> first task finished through the other: ${round(failover, 0)} ms (target < ${TARGET_FAILOVER_MS} ms)`);
    }
    const info = await probe.info('commandstats');
    const keys = await probe.dbsize();
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    log(
      `Redis after the run: ${keys} keys; calls: hset ${calls('hset')} hdel ${calls('hdel')} multi ${calls('multi')} evalsha ${calls('evalsha')} publish ${calls('publish')} (for ${(ROUNDS * TASKS + WARMUP).toLocaleString('en')} tasks a contender)`,
    );
  } finally {
    probe?.disconnect();
    for (const c of all) for (const d of c.drivers) await d.mesh.close().catch(() => {});
    for (const cl of new Set([...all.map((c) => c.cl), ...extra])) await cl.stop();
    redis.proc?.kill('SIGTERM');
  }
}

/** The figures: best round of each contender; for 'two' and 'two-jobs', wall time and capacity with a core per process, each against 'redis'. */
function report(times: Record<string, number[]>, all: Contender[]): void {
  const best = (name: string) => (times[name] ? (TASKS / Math.min(...times[name])) * 1000 : NaN);
  const mem = best('memory');
  const sql = best('sqlite');
  const red = best('redis');
  if (ONLY.has('memory')) emit(figure('gcs.throughput.memory', mem, 'tasks/s'));
  if (ONLY.has('sqlite')) emit(figure('gcs.throughput.sqlite', sql, 'tasks/s', mem));
  if (ONLY.has('redis')) emit(figure('gcs.throughput.redis', red, 'tasks/s', mem));
  if (ONLY.has('memory'))
    log(
      `best of ${ROUNDS}: memory ${Math.round(mem)} tasks/s, SQLite ${Math.round(sql)} (${round(sql / mem, 2)}x memory), ` +
        `Redis ${Math.round(red)} (${round(red / mem, 2)}x memory; target >= ${TARGET}x: ${red / mem >= TARGET ? 'met' : 'MISSED'})`,
    );
  const one = all.find((c) => c.name === 'redis');
  const oneCap = one ? bestCapacity(one.cpu, TASKS) : undefined;
  if (oneCap) {
    emit(figure('gcs.capacity.redis', oneCap.tasksPerS, 'tasks/s'));
    log(
      `one coordinator with one node, a core per process: ${Math.round(oneCap.tasksPerS)} tasks/s (best round; bound: ${oneCap.busiest} ${round(oneCap.msPer1000, 0)} ms per 1,000 tasks)`,
    );
  }
  const fwd = all.find((c) => c.name === 'forward');
  if (fwd && one) {
    // The least any round cost: the coordinator running every task on its own node, and the one forwarding every task.
    const least = (c: Contender, k: string) => Math.min(...c.cpu.map((r) => perThousand(r, TASKS)[k] ?? NaN));
    const [local, forwarded] = [least(one, 'coordinator'), least(fwd, 'coordinator')];
    emit(figure('mesh.cpu.forwarding-coordinator', forwarded, 'ms per 1,000 tasks', local));
    log(
      `forwarding every task to another coordinator costs the driver's coordinator ${round(forwarded, 0)} ms of CPU per 1,000 tasks, ` +
        `running them on its own node ${round(local, 0)} (${round(forwarded / local, 2)}x; the other coordinator ${round(least(fwd, 'coordinator2'), 0)})`,
    );
  }
  for (const c of all.filter((x) => x.second && x.name !== 'forward')) {
    const wall = best(c.name);
    const cap = bestCapacity(c.cpu, TASKS, c.drivers.length);
    const what = c.drivers.length > 1 ? 'a driver on each (two jobs, each placing on both nodes)' : 'one driver on the first';
    emit(figure(`mesh.throughput.${c.name === 'two' ? 'two-coordinators' : c.name}`, wall, 'tasks/s', red));
    emit(figure(`mesh.capacity.${c.name === 'two' ? 'two-coordinators' : c.name}`, cap.tasksPerS, 'tasks/s', oneCap?.tasksPerS ?? null));
    log(
      `two coordinators on one Redis, a node each, ${what}: ${Math.round(wall)} tasks/s = ${round(wall / red, 2)}x one coordinator with one node ` +
        `in wall time (target >= ${TARGET_TWO}x: ${wall / red >= TARGET_TWO ? 'met' : 'MISSED'}; all share this machine's ${CPUS} cores); ` +
        `with a core per process ${Math.round(cap.tasksPerS)} tasks/s = ${round(cap.tasksPerS / (oneCap?.tasksPerS ?? NaN), 2)}x ` +
        `(target >= ${TARGET_TWO}x: ${cap.tasksPerS / (oneCap?.tasksPerS ?? NaN) >= TARGET_TWO ? 'met' : 'MISSED'}; bound: ${cap.busiest} ${round(cap.msPer1000, 0)} ms per 1,000 tasks)`,
    );
  }
}

/**
 * Two coordinators on one Redis (another prefix: their own mesh), an edge node on the second and `firstNodes` on
 * the first, for contenders `names`: 'two' has one driver on the first; 'two-jobs' one on each (its own drivers);
 * 'forward' one on the first, which has no node of its own (every task goes through the second: what forwarding
 * costs it).
 */
async function startTwo(
  url: string,
  redisPid: number | undefined,
  pairPrefix: string,
  firstNodes: number,
  names: string[],
  all: Contender[],
  extra: BenchCluster[],
): Promise<void> {
  const second = await startCluster({ nodes: 1, cpus: CPUS, redis: { url, prefix: pairPrefix } });
  extra.push(second);
  const first = await startCluster({ nodes: firstNodes, cpus: CPUS, redis: { url, prefix: pairPrefix } });
  extra.push(first);
  for (const cl of [first, second]) await pollStats(cl.url, cl.token, (s) => (s.meshLinks ?? 0) >= 1, { timeoutMs: 20_000, everyMs: 100 });
  for (const name of names) {
    all.push(await contender(name, first, redisPid, second, name === 'two-jobs'));
  }
}

type Counts = { finished: number; asked: number; rows: number };
const seen = new Map<BenchCluster, Counts>();
/** The bench's own Redis client (commandstats), and the PUBLISH count it last saw. */
let probe: Redis | undefined;
let published = 0;

/** PUBLISH calls Redis served so far: frames between coordinators (and their idle heartbeats). */
async function publishes(): Promise<number> {
  const info = (await probe?.info('commandstats')) ?? '';
  return Number(/cmdstat_publish:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/**
 * Since the last call, for each coordinator of `c`: tasks finished (a task placed across is finished on both),
 * tasks its rebalancer asked its nodes to hand back, and GCS rows it wrote to Redis per task of the round.
 */
async function countsOfEach(c: Contender): Promise<string> {
  const out: Counts[] = [];
  for (const cl of [c.cl, c.second].filter((x) => x !== undefined)) {
    const s = await cl.stats();
    const last = seen.get(cl) ?? { finished: 0, asked: 0, rows: 0 };
    out.push({ finished: s.tasksFinished - last.finished, asked: s.rebalanceAsked - last.asked, rows: s.gcsRowsWritten - last.rows });
    seen.set(cl, { finished: s.tasksFinished, asked: s.rebalanceAsked, rows: s.gcsRowsWritten });
  }
  const each = (k: keyof Counts, f = (x: number) => String(x)) => out.map((o) => f(o[k])).join(', ');
  const pub = await publishes();
  const frames = pub - published;
  published = pub;
  return (
    `; GCS rows written per task ${each('rows', (x) => String(round(x / TASKS, 2)))}` +
    (c.second
      ? `; tasks finished by each coordinator ${each('finished')}; asked back ${each('asked')}; frames across ${round((frames / TASKS) * 1000, 0)} per 1,000 tasks`
      : '')
  );
}

/** SIGKILL of the driver's coordinator; how long until a task submitted at that moment has finished through the other. */
async function failoverMs(c: Contender): Promise<number> {
  const t0 = performance.now();
  const killed = c.cl.coordinator.kill(); // through the child's kill(): the bench knows this exit is its own
  const d = c.drivers[0];
  await d.mesh.get(d.noop.remote(), { timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  await killed;
  return ms;
}

runBench(main);
