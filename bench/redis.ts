// GCS backends compared (issue 15): throughput of 20,000 empty tasks with the
// memory GCS, SQLite and Redis, one coordinator and one edge node each; then
// two coordinators on one Redis (one mesh), each with its own edge node, the
// driver on the first, against the one-coordinator Redis mesh; then the time
// from SIGKILL of the driver's coordinator to its first task finished through
// the other.
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
// ratios need their baselines: memory for SQLite/Redis, redis for two);
// BENCH_REDIS_ROUNDS=N; BENCH_REDIS_FAILOVER=0 skips the SIGKILL (so that
// BENCH_CPU_PROF, see processes.ts, gets every coordinator's profile).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { connect, type Mesh, type ObjectRef } from '../edge/index.js';
import { cpuDuring } from './cpu.js';
import { emit, figure, interleaved, log, makeTempDir, pollStats, round, runBench, sleep, startCluster, type BenchCluster } from './harness.js';

const TASKS = 20_000;
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 3);
const ONLY = new Set((process.env.BENCH_REDIS_ONLY ?? 'memory,sqlite,redis,two').split(','));
const WARMUP = 2_000;
const CPUS = 2;
const TARGET = 0.7;
const TARGET_TWO = 1.6;
const TARGET_FAILOVER_MS = 2000;

type Noop = { remote(): ObjectRef<void> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of our own (AOF, everysec) in a temp folder; killed when the bench exits. */
async function ownRedis(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const dir = makeTempDir('tabmesh-bench-redis-');
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'],
    {
      stdio: 'ignore',
    },
  );
  process.on('exit', () => proc.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  probe.on('error', () => {});
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { url, proc };
    } catch (e) {
      if (i > 100) throw new Error(`redis-server did not start on port ${port}: ${(e as Error).message}`);
      await sleep(100);
    }
  }
}

interface Contender {
  name: string;
  cl: BenchCluster;
  mesh: Mesh;
  noop: Noop;
  /** The processes whose CPU time a round counts (besides the driver, this process). */
  pids: Record<string, number | undefined>;
  /** CPU ms of each process, per timed round. */
  cpu: Record<string, number>[];
  /** 'two': the second coordinator (tasks it ran for the first are counted per round). */
  second?: BenchCluster;
}

async function contender(name: string, cl: BenchCluster, redisPid: number | undefined, second?: BenchCluster): Promise<Contender> {
  const also = second ? [second.url] : [];
  const mesh = await connect({ url: [cl.url, ...also], token: cl.token, reconnectTimeoutMs: 60_000 });
  const noop = mesh.remote(function noop() {}) as Noop;
  const refs: ObjectRef<void>[] = [];
  for (let i = 0; i < WARMUP; i++) refs.push(noop.remote());
  await mesh.get(refs);
  mesh.free(refs);
  const pids: Record<string, number | undefined> = { coordinator: cl.coordinator.proc.pid, node: cl.nodes[0]?.proc.pid };
  if (second) Object.assign(pids, { coordinator2: second.coordinator.proc.pid, node2: second.nodes[0]?.proc.pid });
  pids.redis = redisPid;
  return { name, cl, mesh, noop, pids, cpu: [], second };
}

async function batch(c: Contender): Promise<void> {
  const cpu = await cpuDuring(c.pids, async () => {
    const refs: ObjectRef<void>[] = [];
    for (let i = 0; i < TASKS; i++) refs.push(c.noop.remote());
    await c.mesh.get(refs);
    c.mesh.free(refs);
  });
  c.cpu.push(cpu);
}

/** CPU ms per 1,000 tasks of each process in a contender's round. */
function cpuLine(c: Contender, r: number): string {
  const cpu = c.cpu[r];
  const per = (ms: number) => round((ms / TASKS) * 1000, 0);
  const total = Object.values(cpu).reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
  return `CPU ms per 1,000 tasks: ${Object.entries(cpu)
    .map(([k, v]) => `${k} ${per(v)}`)
    .join(', ')}; all ${per(total)}`;
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
    if (ONLY.has('two')) await startTwo(redis.url, rp, `${prefix}two`, all, extra);
    log(
      `${all.length} meshes up (1 coordinator + 1 edge node with ${CPUS} executors each; 'two': 2 such on one Redis); ${ROUNDS} interleaved rounds of ${TASKS} empty tasks`,
    );

    const times = await interleaved(ROUNDS, Object.fromEntries(all.map((c) => [c.name, () => batch(c)])) as Record<string, () => Promise<void>>, {
      after: async (name, r, ms) => {
        const c = all.find((x) => x.name === name)!;
        // Untimed: let the coordinator finish freeing before the next timed round.
        const d = await pollStats(c.cl.url, c.cl.token, (s) => s.tasks <= 10 && s.objects <= 10, { timeoutMs: 30_000, everyMs: 50 });
        const ran = c.second ? await ranBySecond(c) : '';
        log(
          `round ${r + 1} ${name}: ${round(ms, 0)} ms = ${Math.round((TASKS / ms) * 1000)} tasks/s (${d.met ? 'drained' : 'NOT drained'} in ${round(d.waitedMs, 0)} ms; load ${loadavg()[0].toFixed(1)})${ran}; ${cpuLine(c, r)}`,
        );
      },
    });
    const best = (name: string) => (times[name] ? (TASKS / Math.min(...times[name])) * 1000 : NaN);
    const mem = best('memory');
    const sql = best('sqlite');
    const red = best('redis');
    if (ONLY.has('memory')) emit(figure('gcs.throughput.memory', mem, 'tasks/s'));
    if (ONLY.has('sqlite')) emit(figure('gcs.throughput.sqlite', sql, 'tasks/s', mem));
    if (ONLY.has('redis')) emit(figure('gcs.throughput.redis', red, 'tasks/s', mem));
    const two = best('two');
    if (ONLY.has('two')) emit(figure('mesh.throughput.two-coordinators', two, 'tasks/s', red));
    log(
      `best of ${ROUNDS}: memory ${Math.round(mem)} tasks/s, SQLite ${Math.round(sql)} (${round(sql / mem, 2)}x memory), ` +
        `Redis ${Math.round(red)} (${round(red / mem, 2)}x memory; target >= ${TARGET}x: ${red / mem >= TARGET ? 'met' : 'MISSED'})`,
    );
    log(
      `two coordinators on one Redis, a node each: ${Math.round(two)} tasks/s = ${round(two / red, 2)}x one coordinator with one node ` +
        `(target >= ${TARGET_TWO}x: ${two / red >= TARGET_TWO ? 'met' : 'MISSED'}; both share this machine's cores)`,
    );
    if (ONLY.has('two') && process.env.BENCH_REDIS_FAILOVER !== '0') {
      const failover = await failoverMs(all.find((c) => c.name === 'two')!);
      emit(figure('mesh.failover.first-task-ms', failover, 'ms'));
      log(`SIGKILL of the driver's coordinator -> first task finished through the other: ${round(failover, 0)} ms (target < ${TARGET_FAILOVER_MS} ms)`);
    }
    const probe = new Redis(redis.url);
    const info = await probe.info('commandstats');
    const keys = await probe.dbsize();
    probe.disconnect();
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
    log(
      `Redis after the run: ${keys} keys; calls: hset ${calls('hset')} hdel ${calls('hdel')} multi ${calls('multi')} evalsha ${calls('evalsha')} publish ${calls('publish')} (for ${(ROUNDS * TASKS + WARMUP).toLocaleString('en')} tasks a contender)`,
    );
  } finally {
    for (const c of all) {
      await c.mesh.close().catch(() => {});
      await c.cl.stop();
    }
    for (const cl of extra) await cl.stop();
    redis.proc?.kill('SIGTERM');
  }
}

/** Two coordinators on one Redis (another prefix: their own mesh), an edge node each; the driver on the first. */
async function startTwo(url: string, redisPid: number | undefined, pairPrefix: string, all: Contender[], extra: BenchCluster[]): Promise<void> {
  const second = await startCluster({ nodes: 1, cpus: CPUS, redis: { url, prefix: pairPrefix } });
  extra.push(second);
  const first = await startCluster({ nodes: 1, cpus: CPUS, redis: { url, prefix: pairPrefix } });
  await pollStats(first.url, first.token, (s) => (s.meshLinks ?? 0) >= 1, { timeoutMs: 20_000, everyMs: 100 });
  const c = await contender('two', first, redisPid, second);
  await ranBySecond(c); // the warm-up's
  all.push(c);
}

const secondFinished = new Map<Contender, number>();

/** How many tasks the second coordinator finished since the last call. */
async function ranBySecond(c: Contender): Promise<string> {
  const s = await c.second!.stats();
  const prev = secondFinished.get(c) ?? 0;
  secondFinished.set(c, s.tasksFinished);
  return `; ${s.tasksFinished - prev} tasks through the second coordinator`;
}

/** SIGKILL of the driver's coordinator; how long until a task submitted at that moment has finished through the other. */
async function failoverMs(c: Contender): Promise<number> {
  const t0 = performance.now();
  c.cl.coordinator.proc.kill('SIGKILL');
  await c.mesh.get(c.noop.remote(), { timeoutMs: 60_000 });
  return performance.now() - t0;
}

runBench(main);
