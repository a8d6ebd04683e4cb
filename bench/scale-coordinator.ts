// The coordinator of bench:scale, as a child process of the bench (its CPU
// and RSS are its own): startCoordinator with an in-memory GCS, plus a probe
// over the IPC channel that reads this process's CPU time, RSS and worst
// event-loop delay (perf_hooks) without going through the coordinator's own
// event loop queue more than one message.
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCoordinator } from '../coordinator/server.js';
import type { FunctionRecord } from '../coordinator/gcs/tables.js';
import { fnDepth } from '../coordinator/scheduler/room.js';
import { compactAfterBursts, gcsTaskCounts } from '../cli/heap.js';
import { setHeapGrowth } from '../cli/heap-flags.js';
import { fullGc } from '../cli/gc.js';
import { loopBudget, OVER_MS } from '../coordinator/loop-budget.js';
import { endWithParent } from './processes.js';
import { stallProbe, threadCpuMs, type StallReport } from '../coordinator/stall-probe.js';
import { GcTally, gcKind, heapGrowthFromEnv, type GcSummary } from './scale-gc.js';
import { JobProfiler, type ProfileRequest } from './scale-profile.js';
import { SlowTurns, type SlowTurnReport } from './scale-slow-turns.js';

/** `quiet`: stop the 10 ms CPU tick until a probe without it (idle CPU measured without the probe's own timer). */
/** `live`: full GCs first, and the heap then reported as `liveHeapBytes` (what the coordinator holds, not its garbage: a per-node figure). */
/** `snapshot` (with `live`): SCALE_HEAP_SNAPSHOT=<folder>: a heap snapshot <folder>/<snapshot>.heapsnapshot after the full GCs (bench/heap-holders.ts reads it). */
export type ProbeRequest = { k: 'probe'; reset: boolean; quiet?: boolean; live?: boolean; snapshot?: string };
/** The coordinator's memory (MB): `spaces` by V8's space name (new_space, old_space, large_object_space, code_space...). */
export interface MemoryShape {
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  spaces: Record<string, { size: number; used: number }>;
}

function memoryShape(): MemoryShape {
  const MB = 1 << 20;
  const m = process.memoryUsage();
  const spaces: MemoryShape['spaces'] = {};
  for (const s of getHeapSpaceStatistics()) if (s.space_size > 0) spaces[s.space_name] = { size: s.space_size / MB, used: s.space_used_size / MB };
  return { heapUsed: m.heapUsed / MB, heapTotal: m.heapTotal / MB, external: m.external / MB, arrayBuffers: m.arrayBuffers / MB, spaces };
}

export interface Probe {
  /** The heap in use after two full GCs (bytes), when the probe asked for it (`live`). */
  liveHeapBytes?: number;
  /**
   * With `live`: the least process CPU (ms; the GC's helper threads too) of three more full GCs of that heap: what a
   * mark-compact of what the coordinator holds costs, as CPU, not as a pause a loaded machine stretches (session 38).
   */
  fullGcCpuMs?: number;
  cpuUs: number;
  rssBytes: number;
  /** Where the RSS is (MB): V8's heap by space, committed (size) and used, and outside it (Buffers and ArrayBuffers). */
  mem: MemoryShape;
  /** Worst event-loop delay since the last reset (ms). */
  loopMaxMs: number;
  loopP99Ms: number;
  /**
   * The most CPU time (ms) the process spent between two 10 ms ticks since the
   * last reset: what one turn of the loop cost, whatever the machine's load. On
   * a shared machine a turn of 20 ms CPU can be a loop delay of seconds of wall
   * time (the process waits for a core); this figure says which it was.
   */
  loopMaxCpuMs: number;
  /** GC pauses since the last reset: by kind (minor: scavenges, major: mark-compacts), their total, distribution and the longest (bench/scale-gc.ts). */
  gc: GcSummary;
  /** The longest /api/stats on the server (ms): from its request parsed to its response written (the rest of a client's wait is before the loop read it). */
  statsServerMaxMs: number;
  /** Loop iterations with a budget (coordinator/loop-budget.ts), and parts held to their floor because it was spent: totals. */
  loopIterations: number;
  loopFloored: number;
  /** Budgeted iterations over 50 ms, the longest (ms), and their time by column (coordinator/loop-budget.ts LoopColumn): totals. */
  loopLong: number;
  loopLongestMs: number;
  loopLongByPart: Record<string, number>;
  /** Budgeted iterations over 50 ms with a GC pause in them: total. */
  loopLongWithGc: number;
  /** SCALE_STALLS=1: iterations over 50 ms of the loop thread's CPU, and their CPU by column: totals (zero otherwise). */
  loopCpuLong: number;
  loopCpuLongByPart: Record<string, number>;
  /** The iteration of most CPU since the last reset, and its CPU by column. */
  loopCpuLongestMs: number;
  loopCpuLongestByPart: Record<string, number>;
  /** SCALE_STALLS=1: the longest synchronous sections and the turn of most CPU since the last reset (coordinator/stall-probe.ts). */
  stalls?: StallReport;
  /** Gaps of the 10 ms tick over 40 ms past it since the last reset: what each was (bench/scale-slow-turns.ts). */
  slow: SlowTurnReport;
  /**
   * The pipelining depth (coordinator/scheduler/room.ts fnDepth: members a CPU a slice may fill) of the function run
   * most since the last reset, sampled at each 10 ms tick in which it ran: ticks by depth. And its measure now.
   */
  depthTicks: Record<number, number>;
  fn?: { name: string; ewmaMs: number; runs: number; depth: number };
}

async function main(): Promise<void> {
  // Its GCS is in memory or in the bench's own Redis: nothing to close when the bench is gone (killed outright, its handlers never ran).
  endWithParent();
  const token = process.env.SCALE_TOKEN ?? '';
  // SCALE_LIFT_LIMITS=1 turns per-address limits off (to measure a coordinator
  // whose defaults would refuse thousands of nodes from one address).
  const lift = process.env.SCALE_LIFT_LIMITS === '1';
  // The heap growth `tabmesh coordinator` sets (cli/heap-flags.ts) unless SCALE_HEAP_GROWTH says (0: V8's own).
  setHeapGrowth(heapGrowthFromEnv(process.env.SCALE_HEAP_GROWTH));
  // SCALE_REDIS (SCALE_COORDINATORS > 1): one of several coordinators of a mesh on that Redis (coordinator/mesh),
  // its GCS there; else the GCS in memory.
  const redis = process.env.SCALE_REDIS;
  const running = await startCoordinator({
    ...(redis ? { redis: { url: redis, prefix: process.env.SCALE_PREFIX ?? 'scale' } } : { memory: true }),
    port: 0,
    token,
    ...(lift ? { httpLimits: false as const } : {}),
    limits: {
      ...(lift ? { connectionsPerAddress: 1e9 } : {}),
      // SCALE_CONNECT_RATE / SCALE_CONNECT_BURST: the per-address rate of new connections (a reconnect storm past the burst).
      ...(process.env.SCALE_CONNECT_RATE ? { connectionsPerSecPerAddress: Number(process.env.SCALE_CONNECT_RATE) } : {}),
      ...(process.env.SCALE_CONNECT_BURST ? { connectionsBurstPerAddress: Number(process.env.SCALE_CONNECT_BURST) } : {}),
      // SCALE_MAX_SESSIONS: a lower connection bound than the open-file limit's (the fill-and-send-on path at a small N).
      ...(process.env.SCALE_MAX_SESSIONS ? { maxSessions: Number(process.env.SCALE_MAX_SESSIONS) } : {}),
    },
    // SCALE_IDLE_DEAD_MS: the idle nodes' dead window (idle keepalives every half of it).
    ...(process.env.SCALE_IDLE_DEAD_MS ? { idleDeadAfterMs: Number(process.env.SCALE_IDLE_DEAD_MS) } : {}),
    // Task groups on (coordinator/groups; the default); SCALE_GROUPS=0: off (`--no-groups`), each task of a job alone, the A/B's other side.
    groups: process.env.SCALE_GROUPS !== '0',
  });
  // The heap compaction after each burst that `tabmesh coordinator` and `npm start` run (cli/heap.ts), unless
  // SCALE_COMPACT=0 (issue 14, session 14: the bench measures what users run; before, opt-in with SCALE_COMPACT=1):
  // its full GCs fall in the idle windows and the next job's GC figures; what it did goes to stderr at each probe.
  const compactor = process.env.SCALE_COMPACT !== '0' ? compactAfterBursts(gcsTaskCounts(running.coordinator.gcs)) : null;
  let statsServerMax = 0;
  running.app.server.on('request', (req: { url?: string }, res: { once(e: 'finish', f: () => void): void }) => {
    if (!req.url?.startsWith('/api/stats')) return;
    const t0 = performance.now();
    res.once('finish', () => (statsServerMax = Math.max(statsServerMax, performance.now() - t0)));
  });
  // Long iterations by CPU too: a getrusage at each part's start and end (bench only).
  // SCALE_STALLS=1: every callback of the loop timed and named, and the loop budget's parts by CPU (a clock read
  // at every part's start and end: 14% of the coordinator's CPU in a profile at 100 nodes, so not in the runs
  // whose CPU per task counts).
  // SCALE_LOOP_MS: another loop iteration budget than LOOP_MS (coordinator/loop-budget.ts), for an A/B in one dist.
  if (process.env.SCALE_LOOP_MS) loopBudget.ms = Number(process.env.SCALE_LOOP_MS);
  if (process.env.SCALE_STALLS === '1') {
    stallProbe.start();
    loopBudget.cpuClock = threadCpuMs;
  }
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();
  // The loop thread's CPU between two ticks (its worst turn), not the process's: V8's GC helpers and libuv's pool
  // ran beside it (a join at 1,000 nodes read 89.8 ms of process CPU in a tick gap of at most 28 ms).
  const cpuNow = threadCpuMs;
  let lastCpu = cpuNow();
  let worstCpu = 0;
  const gc = new GcTally();
  gc.countBytes();
  // Each long gap of the tick below: the loop thread's time on a core, in the run queue and off both, and the GC in it.
  const slow = new SlowTurns();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      // The loop budget moves a pause out of the column of a long iteration it fell in (its own column: gc).
      loopBudget.gcPause(e.startTime, e.duration);
      gc.add(gcKind(e), e.duration);
      slow.gc(e.startTime, e.duration, gcKind(e));
    }
  }).observe({ entryTypes: ['gc'] });
  // The job's function: the one of most runs since the last reset; its depth at each tick in which it ran.
  const fns = running.coordinator.gcs.functions;
  let runsAt = new Map<string, number>();
  let depthTicks: Record<number, number> = {};
  let seenRuns = -1;
  const mostRun = (): FunctionRecord | undefined => {
    let best: FunctionRecord | undefined;
    let most = 0;
    for (const f of fns.values()) {
      const k = f.runs - (runsAt.get(f.fnId) ?? 0);
      if (k > most) [best, most] = [f, k];
    }
    return best;
  };
  const sampleDepth = () => {
    const f = mostRun();
    if (!f || f.runs === seenRuns) return;
    seenRuns = f.runs;
    const d = fnDepth(running.coordinator.gcs, f.fnId);
    depthTicks[d] = (depthTicks[d] ?? 0) + 1;
  };
  const jobFn = (): Probe['fn'] => {
    const f = mostRun();
    return f && { name: f.name, ewmaMs: f.ewmaMs, runs: f.runs, depth: fnDepth(running.coordinator.gcs, f.fnId) };
  };
  const tick = () => {
    sampleDepth();
    const c = cpuNow();
    worstCpu = Math.max(worstCpu, c - lastCpu);
    lastCpu = c;
    slow.tick();
  };
  let ticks: NodeJS.Timeout | undefined;
  // SCALE_PROFILE=<folder>: a CPU and a sampling heap profile of each job (bench/scale-profile.ts).
  const profiler = process.env.SCALE_PROFILE ? new JobProfiler(process.env.SCALE_PROFILE) : null;
  let gcNow: ReturnType<typeof fullGc> | undefined;
  let overAt = OVER_MS.map(() => 0);
  let cpuOverAt = OVER_MS.map(() => 0);
  process.on('message', (m: ProbeRequest | ProfileRequest) => {
    if (m.k === 'profile') {
      if (!profiler) return void process.send!({ k: 'profiled', files: [] });
      const done = m.name === undefined ? profiler.stop() : profiler.start(m.name).then(() => []);
      return void done.then((files) => process.send!({ k: 'profiled', files }));
    }
    if (m.k !== 'probe') return;
    let liveHeapBytes: number | undefined;
    let fullGcCpuMs: number | undefined;
    if (m.live) {
      // Two: what the first one's finalizers and weak callbacks let go is collected by the second.
      const gc = (gcNow ??= fullGc());
      gc(false);
      gc(false);
      liveHeapBytes = getHeapStatistics().used_heap_size;
      fullGcCpuMs = Infinity;
      for (let i = 0; i < 3; i++) {
        const c0 = process.cpuUsage();
        gc(false);
        const c = process.cpuUsage(c0);
        fullGcCpuMs = Math.min(fullGcCpuMs, (c.user + c.system) / 1000);
      }
      const dir = process.env.SCALE_HEAP_SNAPSHOT;
      if (dir && m.snapshot !== undefined) {
        // Only a name of the bench's own making: no path out of the folder.
        if (!/^[\w.-]+$/.test(m.snapshot)) throw new Error(`heap snapshot name ${m.snapshot}: letters, digits, '.', '-' and '_' only`);
        mkdirSync(dir, { recursive: true });
        console.error(`[coordinator] heap snapshot ${writeHeapSnapshot(join(dir, `${m.snapshot}.heapsnapshot`))}`);
      }
    }
    if (compactor) console.error(`[coordinator] heap compaction so far: ${JSON.stringify(compactor.stats())}`);
    const cpu = process.cpuUsage();
    if (m.quiet && ticks) {
      clearInterval(ticks);
      ticks = undefined;
    } else if (!m.quiet && !ticks) {
      lastCpu = cpuNow();
      slow.tick(true);
      ticks = setInterval(tick, 10).unref();
    }
    const p: Probe = {
      ...(liveHeapBytes !== undefined ? { liveHeapBytes, fullGcCpuMs } : {}),
      cpuUs: cpu.user + cpu.system,
      rssBytes: process.memoryUsage().rss,
      mem: memoryShape(),
      loopMaxMs: eld.max / 1e6,
      loopP99Ms: eld.percentile(99) / 1e6,
      loopMaxCpuMs: worstCpu,
      gc: gc.summary(),
      statsServerMaxMs: statsServerMax,
      loopIterations: loopBudget.iterations,
      loopFloored: loopBudget.floored,
      loopLong: loopBudget.long,
      loopLongestMs: loopBudget.longest,
      loopLongByPart: { ...loopBudget.longByPart },
      loopLongWithGc: loopBudget.longWithGc,
      loopCpuLong: loopBudget.cpuLong,
      loopCpuLongByPart: { ...loopBudget.cpuLongByPart },
      loopCpuLongestMs: loopBudget.cpuLongest,
      loopCpuLongestByPart: { ...loopBudget.cpuLongestByPart },
      ...(process.env.SCALE_STALLS === '1' ? { stalls: stallProbe.report(m.reset) } : {}),
      slow: slow.report(m.reset),
      depthTicks: { ...depthTicks },
      fn: jobFn(),
    };
    if (m.reset) {
      // Iterations by length since the last reset (wall, active time; and loop-thread CPU with SCALE_STALLS=1).
      const over = (c: number[], from: number[]) => OVER_MS.map((ms, i) => `>${ms} ${c[i] - from[i]}`).join(', ');
      console.error(`[coordinator] loop iterations since the last probe: ${over(loopBudget.overMs, overAt)}; by CPU ${over(loopBudget.cpuOverMs, cpuOverAt)}`);
      overAt = [...loopBudget.overMs];
      cpuOverAt = [...loopBudget.cpuOverMs];
      loopBudget.longest = 0;
      loopBudget.cpuLongest = 0;
      statsServerMax = 0;
      eld.reset();
      worstCpu = 0;
      gc.reset();
      depthTicks = {};
      runsAt = new Map([...fns.values()].map((f) => [f.fnId, f.runs]));
      seenRuns = -1;
    }
    process.send!(p);
  });
  slow.tick(true);
  ticks = setInterval(tick, 10).unref();
  process.on('SIGTERM', () => void running.close().then(() => process.exit(0)));
  process.send!({ k: 'listening', url: running.url });
}

void main();
