// The processes of bench:scale (bench/scale.ts): a coordinator child process (or several on one Redis,
// SCALE_COORDINATORS) and node processes (bench/scale-nodes.ts), driven over IPC; /api/stats read over HTTP.
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { nowMs, ownChild, sleep } from './harness.js';
import type { Probe } from './scale-coordinator.js';
import type { NodesReport, NodesRequest } from './scale-nodes.js';
import type { ProfileRequest } from './scale-profile.js';
import { ownRedis } from './own-redis.js';
import { tickSleep } from './scale-cpu.js';
import { COORDINATOR_NICE, COORDINATOR_SESSION, NODES_NICE, reniceAll } from './scale-priority.js';

/** Simulated nodes a node process (SCALE_NODES_PER_PROCESS): each process compiles and collects on its own (decisions.md). */
const NODES_PER_PROCESS = Number(process.env.SCALE_NODES_PER_PROCESS ?? 5000);
if (!(Number.isInteger(NODES_PER_PROCESS) && NODES_PER_PROCESS >= 1)) throw new Error('SCALE_NODES_PER_PROCESS: a whole number of nodes, at least 1');
const JOIN_CONCURRENCY = 64;

/** The /api/stats poller's thread (CommonJS, as eval workers are). */
const POLLER = `
const { parentPort, workerData } = require('node:worker_threads');
let on = true;
let worst = 0;
parentPort.on('message', () => (on = false));
(async () => {
  while (on) {
    const t0 = performance.now();
    try {
      const res = await fetch(workerData.url, { headers: { authorization: 'Bearer ' + workerData.token } });
      await res.arrayBuffer();
    } catch {}
    worst = Math.max(worst, performance.now() - t0);
    await new Promise((r) => setTimeout(r, 200));
  }
  parentPort.postMessage(worst);
})();
`;
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

interface Proc {
  p: ChildProcess;
  next<T>(): Promise<T>;
}

/**
 * Every simulated node is a socket on the coordinator: 20,000 nodes need more descriptors than a usual
 * `ulimit -n`. Where util-linux's prlimit may raise the hard limit (CAP_SYS_RESOURCE: not in this
 * project's containers, where it fails with EPERM even as root), processes start under it with FD_LIMIT;
 * else with the limit they inherit, and the coordinator refuses joins past it with COORDINATOR_FULL,
 * which the join figures show.
 */
const FD_LIMIT = 200_000;
const prlimit = (() => {
  try {
    execFileSync('prlimit', [`--nofile=${FD_LIMIT}:${FD_LIMIT}`, 'true'], { stdio: 'ignore' });
    return ['prlimit', `--nofile=${FD_LIMIT}:${FD_LIMIT}`, process.execPath];
  } catch {
    return undefined;
  }
})();

function forkProc(file: string, env: Record<string, string>, execArgv: string[] = [], session = false): Proc {
  const node = ['--max-old-space-size=4096', ...execArgv];
  const p = fork(file, [], {
    env: { ...process.env, ...env },
    detached: session,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(prlimit ? { execPath: prlimit[0], execArgv: [...prlimit.slice(1), ...node] } : { execArgv: node }),
  });
  // Killed if the bench exits or is interrupted first; it ends by itself if the bench is killed outright (endWithParent).
  ownChild(p);
  const waiting: { resolve: (m: unknown) => void; reject: (e: Error) => void }[] = [];
  const queued: unknown[] = [];
  p.on('message', (m) => {
    const w = waiting.shift();
    if (w) w.resolve(m);
    else queued.push(m);
  });
  // A child that exits fails what waits on it (a coordinator killed by an error left the bench waiting for its
  // probe's answer, with 10,000 nodes running, session 16).
  let exited: Error | null = null;
  p.once('exit', (code, signal) => {
    exited = new Error(`${file.split('/').pop()} exited (${signal ?? `code ${code}`}) before it answered`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  return {
    p,
    next: <T>() =>
      new Promise<T>((resolve, reject) => {
        if (queued.length) return resolve(queued.shift() as T);
        if (exited) return reject(exited);
        waiting.push({ resolve: resolve as (m: unknown) => void, reject });
      }),
  };
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  // A profiled coordinator needs time to write its profile.
  const t = setTimeout(() => p.kill('SIGKILL'), process.env.SCALE_CPU_PROF ? 60_000 : 3000);
  await exited;
  clearTimeout(t);
}

export class Cluster {
  /** The coordinators: the first is the driver's (its figures are the run's), the others nodes of it through mesh links. */
  coords: Proc[] = [];
  urls: string[] = [];
  url = '';
  nodes: Proc[] = [];
  readonly token = 'scale-' + randomBytes(8).toString('hex');
  private redis: ChildProcess | undefined;

  /**
   * `coordinators` > 1: that many coordinator processes on one Redis of the bench's own, one mesh (coordinator/mesh).
   * `spread`: the nodes spread over them (SCALE_SPREAD), else every node lists them in one order (the first fills).
   */
  constructor(
    readonly coordinators = 1,
    readonly spread = false,
  ) {}

  /** The bench's own redis-server (SCALE_GCS=redis or a mesh), for its CPU in the idle window. */
  get redisPid(): number | undefined {
    return this.redis?.pid;
  }

  get coord(): Proc {
    return this.coords[0];
  }

  async start(): Promise<void> {
    // SCALE_CPU_PROF=<folder>: the coordinator writes a V8 CPU profile there when it stops (--cpu-prof).
    const prof = process.env.SCALE_CPU_PROF;
    // BENCH_COORDINATOR_NODE_ARGS (space separated): node/V8 flags for the coordinator only, as in bench/processes.ts.
    const extra = (process.env.BENCH_COORDINATOR_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const env: Record<string, string> = { SCALE_TOKEN: this.token };
    // SCALE_GCS=redis: one coordinator's GCS in the bench's Redis too, as a mesh's is (a baseline on the same GCS).
    if (this.coordinators > 1 || process.env.SCALE_GCS === 'redis') {
      const r = await ownRedis();
      this.redis = r.proc;
      env.SCALE_REDIS = r.url;
      env.SCALE_PREFIX = 'scale-' + randomBytes(4).toString('hex');
    }
    for (let i = 0; i < this.coordinators; i++)
      this.coords.push(
        forkProc(here('./scale-coordinator.js'), env, [...extra, ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])], COORDINATOR_SESSION),
      );
    this.urls = await Promise.all(this.coords.map(async (c) => (await c.next<{ url: string }>()).url));
    if (COORDINATOR_NICE !== 0) for (const c of this.coords) if (c.p.pid !== undefined) reniceAll(c.p.pid, COORDINATOR_NICE, COORDINATOR_SESSION);
    this.url = this.urls[0];
    if (this.coordinators > 1) {
      // Each a node of every other one (mesh links) before nodes join.
      for (let i = 0; i < 300; i++) {
        const all = await Promise.all(this.urls.map((u) => this.statsOf(u).catch(() => null)));
        if (all.every((s) => s?.meshLinks === this.coordinators - 1)) return;
        await sleep(100);
      }
      throw new Error(`the ${this.coordinators} coordinators did not link to each other in 30 s`);
    }
  }

  /** `live`: the heap after full GCs too (liveHeapBytes; outside windows whose CPU counts); `snapshot`: a heap snapshot's name (SCALE_HEAP_SNAPSHOT). */
  async probe(reset = false, quiet = false, live = false, snapshot?: string): Promise<Probe> {
    this.coord.p.send({ k: 'probe', reset, quiet, live, ...(snapshot !== undefined ? { snapshot } : {}) });
    return this.coord.next<Probe>();
  }

  /** The probes of the coordinators other than the driver's (none with one coordinator). */
  async probeOthers(reset = false, quiet = false): Promise<Probe[]> {
    return Promise.all(
      this.coords.slice(1).map((c) => {
        c.p.send({ k: 'probe', reset, quiet });
        return c.next<Probe>();
      }),
    );
  }

  /** /api/stats of the coordinators other than the driver's. */
  async statsOthers(): Promise<Record<string, number>[]> {
    return Promise.all(this.urls.slice(1).map((u) => this.statsOf(u)));
  }

  /** SCALE_PROFILE: starts a job's profiles in the driver's coordinator and each node process, or ends them (no name): the files. */
  async profile(name?: string): Promise<string[]> {
    const procs = [this.coord, ...this.nodes];
    for (const [i, p] of procs.entries())
      p.p.send({ k: 'profile', name: i === 0 || name === undefined ? name : `nodes-${name.replace(/^coordinator-/, '')}` } satisfies ProfileRequest);
    return (await Promise.all(procs.map((p) => p.next<{ files: string[] }>()))).flatMap((r) => r.files);
  }

  /** Starts node processes (`processes`, or SCALE_NODES_PER_PROCESS's share) and joins `n` nodes, spread over them. */
  async join(
    n: number,
    processes?: number,
  ): Promise<{ ms: number; joined: number; failed: number; errors: string[]; sentOn: number; byCoordinator: number[]; refusals: Record<string, number> }> {
    const procs = processes ?? Math.max(1, Math.ceil(n / NODES_PER_PROCESS));
    const t0 = nowMs();
    const fresh: Proc[] = [];
    for (let i = 0; i < procs; i++) {
      const prof = process.env.SCALE_CPU_PROF;
      const k = this.nodes.length + i;
      // Every coordinator's URL, in one order (SCALE_SPREAD=1: the node processes rotate it node by node).
      const p = forkProc(
        here('./scale-nodes.js'),
        { SCALE_URL: this.urls.join(','), SCALE_TAG: `p${k}`, SCALE_SPREAD: this.spread ? '1' : '0', SCALE_TICK_SLEEP: tickSleep(k) },
        prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=nodes-p${this.nodes.length + i}-${process.pid}.cpuprofile`] : [],
      );
      if (NODES_NICE !== 0 && p.p.pid !== undefined) setPriority(p.p.pid, NODES_NICE);
      fresh.push(p);
    }
    await Promise.all(fresh.map((p) => p.next()));
    this.nodes.push(...fresh);
    const per = Math.ceil(n / procs);
    const reports = await Promise.all(
      fresh.map((p, i) => {
        const count = Math.min(per, n - i * per);
        p.p.send({ k: 'join', count, concurrency: JOIN_CONCURRENCY } satisfies NodesRequest);
        return p.next<NodesReport>();
      }),
    );
    // Joined on the node side; wait until the coordinators count them all too.
    const joined = reports.reduce((a, r) => a + r.joined, 0);
    for (let i = 0; i < 600; i++) {
      const all = await Promise.all(this.urls.map((u) => this.statsOf(u).catch(() => null)));
      if (all.every((s) => s) && all.reduce((a, s) => a + s!.nodes, 0) >= joined) break;
      await sleep(100);
    }
    const refusals: Record<string, number> = {};
    for (const r of reports) for (const [why, k] of Object.entries(r.refusals)) refusals[why] = (refusals[why] ?? 0) + k;
    const byCoordinator: Record<string, number> = {};
    for (const r of reports) for (const [u, k] of Object.entries(r.byCoordinator)) byCoordinator[u] = (byCoordinator[u] ?? 0) + k;
    return {
      ms: nowMs() - t0,
      joined,
      failed: reports.reduce((a, r) => a + r.failed, 0),
      errors: reports.flatMap((r) => r.errors),
      sentOn: reports.reduce((a, r) => a + r.sentOn, 0),
      byCoordinator: this.urls.map((u) => byCoordinator[u] ?? 0),
      refusals,
    };
  }

  /** Joins `n` more nodes in the node processes already running (churn: newcomers, or nodes coming back). */
  async rejoin(n: number): Promise<{ joined: number; failed: number }> {
    const reports = await this.each(n, (count) => ({ k: 'join', count, concurrency: JOIN_CONCURRENCY }));
    return { joined: reports.reduce((a, r) => a + r.joined, 0), failed: reports.reduce((a, r) => a + r.failed, 0) };
  }

  /** Closes `n` nodes' connections, spread over the node processes (the coordinator sees them go). */
  async leave(n: number): Promise<void> {
    await this.each(n, (count) => ({ k: 'leave', count }));
  }

  /** The node processes' own count: nodes connected, dropped without being asked to leave, and failed join attempts by why. */
  async census(): Promise<{ alive: number; dropped: number; refusals: Record<string, number> }> {
    const reports = await Promise.all(
      this.nodes.map((p) => {
        p.p.send({ k: 'count' } satisfies NodesRequest);
        return p.next<NodesReport>();
      }),
    );
    const refusals: Record<string, number> = {};
    for (const r of reports) for (const [why, n] of Object.entries(r.refusals)) refusals[why] = (refusals[why] ?? 0) + n;
    return { alive: reports.reduce((a, r) => a + r.alive, 0), dropped: reports.reduce((a, r) => a + r.dropped, 0), refusals };
  }

  /** Closes every node's connection in every node process. */
  async leaveAll(): Promise<void> {
    await Promise.all(
      this.nodes.map((p) => {
        p.p.send({ k: 'leave', count: 1e9 } satisfies NodesRequest);
        return p.next<NodesReport>();
      }),
    );
  }

  private async each(n: number, req: (count: number) => NodesRequest): Promise<NodesReport[]> {
    const per = Math.ceil(n / this.nodes.length);
    return Promise.all(
      this.nodes.map((p, i) => {
        p.p.send(req(Math.max(0, Math.min(per, n - i * per))));
        return p.next<NodesReport>();
      }),
    );
  }

  /** Waits until the coordinator holds at most `tasks` tasks and `objects` objects; returns false after `ms`. */
  async settled(tasks: number, objects: number, ms: number): Promise<boolean> {
    const end = nowMs() + ms;
    while (nowMs() < end) {
      const s = await this.stats().catch(() => null);
      if (s && s.tasks <= tasks && s.objects <= objects) return true;
      await sleep(100);
    }
    return false;
  }

  async stats(): Promise<Record<string, number>> {
    return this.statsOf(this.url);
  }

  /**
   * /api/stats summed over every coordinator of the mesh (one coordinator: its own): counts of nodes (links to
   * other coordinators are not in `nodes`), losses and breaches are each coordinator's own (churn at 20,000 nodes).
   */
  async meshStats(): Promise<Record<string, number>> {
    const all = await Promise.all(this.urls.map((u) => this.statsOf(u)));
    const sum: Record<string, number> = {};
    for (const s of all) for (const [k, v] of Object.entries(s)) if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
    return sum;
  }

  private async statsOf(url: string): Promise<Record<string, number>> {
    const res = await fetch(new URL('/api/stats', url), { headers: { authorization: `Bearer ${this.token}` } });
    if (!res.ok) throw new Error(`/api/stats: ${res.status}`);
    return (await res.json()) as Record<string, number>;
  }

  /**
   * Polls /api/stats every 200 ms from a worker thread (its own event loop: a
   * driver busy submitting in this thread does not delay it); stop() answers
   * the worst latency seen.
   */
  statsPoller(): { stop(): Promise<number> } {
    const w = new Worker(POLLER, { eval: true, workerData: { url: new URL('/api/stats', this.url).href, token: this.token } });
    return {
      stop: () =>
        new Promise<number>((resolve) => {
          w.once('message', (worst: number) => {
            void w.terminate();
            resolve(worst);
          });
          w.postMessage('stop');
        }),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((p) => stop(p.p)));
    await Promise.all(this.coords.map((c) => stop(c.p)));
    this.redis?.kill('SIGKILL');
  }
}
