// Scale benchmark (issue 14): one coordinator and N simulated nodes.
//
//   npm run build && npm run bench:scale
//   SCALE_NODES=100,1000 npm run bench:scale      # pick the sizes
//   SCALE_20K=1 npm run bench:scale               # add 20,000 nodes
//   SCALE_100K=0 npm run bench:scale              # skip the 100,000-task job
//   SCALE_REPEAT=1 npm run bench:scale            # each job once at each size (default 3: median and spread)
//   SCALE_WARM=0 npm run bench:scale              # no unmeasured first run of each job (default 1: warm-up, reported as cold)
//   SCALE_JOBS=0 SCALE_IDLE_MS=20000 npm run bench:scale  # join and a 20 s idle window only
//   BENCH_COORDINATOR_NODE_ARGS="--trace-gc" npm run bench:scale  # node/V8 flags for the coordinator
//   SCALE_HEAP_GROWTH=0 npm run bench:scale       # V8's own heap growth (default: 100%, as `tabmesh coordinator`)
//   SCALE_COMPACT=0 npm run bench:scale           # without the CLI's heap compaction after each burst (on by default)
//   SCALE_CHURN=1 npm run bench:scale              # then churn at the largest N
//   SCALE_NODES=2000 SCALE_COORDINATORS=2 SCALE_SPREAD=1 SCALE_STALL=other:3000 npm run bench:scale
//                                                  # a coordinator stopped (SIGSTOP) mid-job: the job must end (scale-stall.ts)
//   SCALE_CPU_PROF=/tmp/prof npm run bench:scale   # CPU profiles of the coordinator and node processes per N
//   SCALE_PROFILE=/tmp/prof npm run bench:scale    # CPU and sampling heap profiles of each job alone: the coordinator, each node process
//   SCALE_HEAP_SNAPSHOT=/tmp/snap npm run bench:scale  # the coordinator's heap snapshots around the join (bench:heap-holders reads them)
//   SCALE_PROFILE_LIVE=1 SCALE_PROFILE=/tmp/prof ...  # the heap profile of what each job leaves alive at its last result
//   SCALE_PROFILE_LIVE=survived SCALE_PROFILE=/tmp/prof ...  # ... of what survived a scavenge (copied or promoted)
//   SCALE_LOOP_MS=15 npm run bench:scale          # the coordinator's loop iteration budget (LOOP_MS, 20 ms) set to 15 ms
//   SCALE_NODES=100,20000 npm run bench:scale      # a size past one coordinator's open-file bound (19,728 nodes here)
//                                                  # runs on as many coordinators of one mesh (one Redis) as it needs,
//                                                  # its nodes spread over them; figures per coordinator (scale-layout.ts)
//   SCALE_NODES=100,20000 SCALE_COORDINATORS=2 npm run bench:scale  # 2 coordinators for every size after the first
//                                                  # (or a count per size: SCALE_COORDINATORS=1,2); nodes list both, the
//                                                  # first fills and sends the rest on; SCALE_SPREAD=1 spreads them instead
//   SCALE_NODES=100,20000 SCALE_COORDINATORS=2,2 SCALE_SPREAD=1,1 SCALE_NODE_PROCESSES=4 ...  # the baseline in the large size's layout
//   SCALE_GCS=redis npm run bench:scale            # one coordinator's GCS in the bench's Redis too (as a mesh's)
//   SCALE_NODES=300,300,300,300 SCALE_COORDINATORS=2,2,2,2 SCALE_SPREAD=0,1,0,1 SCALE_100K=0 npm run bench:scale
//                                                  # a job over two coordinators against one (the other idle), alternated:
//                                                  # the report's spread_vs_one is the ratio of tasks/s (one SCALE_SPREAD per size)
//
// The coordinator (bench/scale-coordinator.ts) and the nodes
// (bench/scale-nodes.ts: real NodeRuntimes, real WebSockets, executors in
// their own thread) run as child processes; this process is the driver.
// Per N: join time (and joins refused: a coordinator at its open-file bound
// says COORDINATOR_FULL; the jobs then run on the nodes that joined), idle
// coordinator CPU and RSS, then 20,000 and 100,000 empty tasks: tasks/s,
// coordinator CPU per task, the worst event-loop delay in the coordinator and
// the worst /api/stats latency during the run, and how the scheduler spread
// them (tasks packed on nodes already given work that turn, tasks asked back
// for idle nodes, the most outboxes flushed in one turn). Ratios are against
// the smallest N of the run.
// Churn (at the largest N): 10% of the nodes leave and 10% join once a fifth
// of a job is done (exact results? tasks stolen for the newcomers?), then all
// of them drop and return (time until the coordinator counts them all again).
// stdout: one JSON line per figure; stderr: diagnostics and a table.
import { connect, type ObjectRef } from '../edge/index.js';
import { log, nowMs, runBench, sleep, round, MB } from './harness.js';
import { Cluster } from './scale-cluster.js';
import { COORDINATOR_NICE, COORDINATOR_SESSION, NODES_NICE } from './scale-priority.js';
import { churn, type Churn } from './scale-churn.js';
import { counts, countsLine } from './scale-counts.js';
import type { Probe } from './scale-coordinator.js';
import { gcBytesLine, gcLine } from './scale-gc.js';
import { combineRepeats, memLine, report, type Row, type Run } from './scale-report.js';
import { stallMidJob, stallsFromEnv } from './scale-stall.js';
import { layoutsFromEnv, type Layout } from './scale-layout.js';
import { coordinatorRunLines, coordinatorRuns } from './scale-per-coordinator.js';
import { slowTurnLines } from './scale-slow-turns.js';
import { threadsSince } from './scale-threads.js';
import { getOrReport } from './scale-hang.js';
import { cpuBetween, cpuByProcessLine, cpuSnapshot, processKinds } from './scale-cpu.js';
import { logStalls } from './scale-stall-sections.js';

/** SCALE_STALL=other:3000 (or first:…, several separated by commas): a coordinator stopped mid-job (bench/scale-stall.ts). */
const STALL = stallsFromEnv();
/** SCALE_STALLS=1: the coordinator names its long sections and counts its loop's iterations by CPU (bench/scale-coordinator.ts). */
const STALLS = process.env.SCALE_STALLS === '1';
/** SCALE_PROFILE=<folder>: the coordinator's profiles of each job (bench/scale-profile.ts); its CPU figures then include the profilers'. */
const PROFILE = Boolean(process.env.SCALE_PROFILE);
/**
 * SCALE_REPEAT: each job runs this many times at each size (default 3): the figures are the median repeat's by tasks/s,
 * with the spread, and the worst loop delay of all (the 100-node baseline swung 20k-29k tasks/s between runs).
 */
const REPEAT = Math.max(1, Number(process.env.SCALE_REPEAT ?? 3));
/**
 * SCALE_WARM: runs of each job at each size before its repeats, not counted (default 1). The first run of a job on
 * a fresh crowd ran at a third of the next ones at 100 nodes as at 20,000 (13,343 against 34,977-38,688 tasks/s,
 * session 34): the code paths of a burst are cold in every process. Its tasks/s is still reported (`cold`).
 */
const WARM = Math.max(0, Number(process.env.SCALE_WARM ?? 1));
/** How long a job's results may take to be freed before the bench goes on (ms). */
const FREE_WAIT_MS = 120_000;
/**
 * The idle window (SCALE_IDLE_MS): by default one period of idle nodes' keepalives (half the idle dead window, 30 s
 * unless SCALE_IDLE_DEAD_MS; a third before session 19), so that each idle node's keepalive counts once whatever its
 * phase. The nodes of a job go idle together at its end: a 5 s window after it read 1,366-1,511 keepalives a second
 * against 975 before the jobs (session 12), an idle CPU of 4.9-5.2% against 2.7-3.3%.
 */
const IDLE_MS = Number(process.env.SCALE_IDLE_MS ?? Number(process.env.SCALE_IDLE_DEAD_MS ?? 30_000) / 2);

/** Totals by column between two probes. */
const byColumn = (a: Record<string, number>, b: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v - (b[k] ?? 0)]));
const columns = (c: Record<string, number>): string =>
  Object.entries(c)
    .map(([k, v]) => `${k} ${round(v, 0)}`)
    .join(', ');

/** `count` empty tasks through one driver, with /api/stats polled throughout. */
async function runJob(cl: Cluster, n: number, count: number, idleCpuFraction: number, repeat = 0): Promise<Run> {
  const mesh = await connect({ url: cl.url, token: cl.token });
  try {
    const noop = mesh.remote(function noop() {}) as unknown as { remote(): ObjectRef<void> };
    // Warm-up: the function is measured (pipelining depth) and known to some nodes.
    const warm: ObjectRef<void>[] = [];
    for (let i = 0; i < 200; i++) warm.push(noop.remote());
    await getOrReport(mesh, warm, `N=${n}: the warm-up`, cl.urls, cl.token, 120_000);
    mesh.free(warm);
    await sleep(300);
    // Polled from a thread of its own: this thread's submits and gets must not delay the poll.
    const poller = cl.statsPoller();
    const s0 = await cl.stats();
    if (PROFILE) await cl.profile(`coordinator-n${n}-${count}${REPEAT > 1 ? `-r${repeat + 1}` : ''}`);
    const before = await cl.probe(true);
    // The other coordinators of the mesh (SCALE_COORDINATORS): their CPU, loop and the tasks their nodes ran.
    const [othersBefore, otherStats0] = [await cl.probeOthers(true), await cl.statsOthers()];
    const cpu0 = cpuSnapshot(processKinds(cl));
    const t0 = nowMs();
    const refs: ObjectRef<void>[] = [];
    for (let i = 0; i < count; i++) refs.push(noop.remote());
    const stalled = stallMidJob(cl, STALL, s0.tasksFinished ?? 0, count);
    // With a stop mid-job, a hang is an error (the job must end): 5 minutes.
    await getOrReport(mesh, refs, `N=${n}: ${count} tasks`, cl.urls, cl.token, STALL.length ? 300_000 : undefined);
    await stalled;
    const ms = nowMs() - t0;
    const cpuByProcess = cpuBetween(cpu0, cpuSnapshot(processKinds(cl)));
    if (STALL.length) log(`N=${n}: ${count} tasks: the job ended (every result) in ${round(ms / 1000, 1)} s with the stops`);
    const after = await cl.probe(true);
    const [othersAfter, otherStats1] = [await cl.probeOthers(true), await cl.statsOthers()];
    for (const [i, o] of othersAfter.entries()) for (const line of slowTurnLines(o.slow)) log(`N=${n}: ${count} tasks, coordinator ${i + 1}: ${line}`);
    if (PROFILE) log(`N=${n}: ${count} tasks profiled: ${(await cl.profile()).join(', ')}`);
    // The pipelining depth the job's slices were cut to (coordinator/scheduler/room.ts fnDepth): ticks by depth.
    const fnLine = (f: Probe['fn']) => (f ? `${f.name} ${round(f.ewmaMs * 1000, 1)} µs measured over ${f.runs} runs, depth ${f.depth}` : 'none');
    log(`N=${n}: ${count} tasks: the function before: ${fnLine(before.fn)}; after: ${fnLine(after.fn)}; 10 ms ticks by depth: ${columns(after.depthTicks)}`);
    logStalls(`${count} tasks`, after);
    const statsWorst = await poller.stop();
    const s1 = await cl.stats();
    // The results freed: until the coordinator holds no more tasks and objects than before the job (the driver's
    // releases are handled a slice per turn), with its CPU and loop over that time; the idle window comes after.
    const f0 = nowMs();
    mesh.free(refs);
    const freed = await cl.settled(s0.tasks, s0.objects, FREE_WAIT_MS);
    const freeMs = nowMs() - f0;
    const afterFree = await cl.probe(true);
    logStalls(`${count} tasks, their free`, afterFree);
    for (const line of slowTurnLines(afterFree.slow)) log(`N=${n}: ${count} tasks, their free: ${line}`);
    log(
      `${count} tasks freed ${freed ? 'in' : 'NOT all after'} ${round(freeMs, 0)} ms: ${round((afterFree.cpuUs - after.cpuUs) / count, 1)} µs CPU a task, loop ${round(afterFree.loopMaxMs, 1)} ms, RSS ${round(afterFree.rssBytes / MB, 0)} MB (${memLine(afterFree)}); GC: ${gcLine(afterFree.gc)}`,
    );
    return {
      freeMs,
      freeCpuUsPerTask: (afterFree.cpuUs - after.cpuUs) / count,
      freeLoopMaxMs: afterFree.loopMaxMs,
      tasks: count,
      tasksPerSec: (count / ms) * 1000,
      tasksPerSecAll: [(count / ms) * 1000],
      cpuByProcess,
      cpuUsPerTask: (after.cpuUs - before.cpuUs) / count,
      cpuUsPerTaskNet: Math.max(0, after.cpuUs - before.cpuUs - idleCpuFraction * ms * 1000) / count,
      loopMaxMs: after.loopMaxMs,
      loopMaxCpuMs: after.loopMaxCpuMs,
      slow: after.slow,
      gc: after.gc,
      rssAfterMb: afterFree.rssBytes / MB,
      statsWorstMs: statsWorst,
      statsServerMs: after.statsServerMaxMs,
      loopIterations: after.loopIterations - before.loopIterations,
      loopFloored: after.loopFloored - before.loopFloored,
      loopLong: after.loopLong - before.loopLong,
      loopLongestMs: after.loopLongestMs,
      loopLongByPart: byColumn(after.loopLongByPart, before.loopLongByPart),
      loopLongWithGc: after.loopLongWithGc - before.loopLongWithGc,
      loopCpuLong: after.loopCpuLong - before.loopCpuLong,
      loopCpuLongByPart: byColumn(after.loopCpuLongByPart, before.loopCpuLongByPart),
      loopCpuLongestMs: after.loopCpuLongestMs,
      loopCpuLongestByPart: after.loopCpuLongestByPart,
      packed: s1.schedulerPacked - s0.schedulerPacked,
      askedBack: s1.rebalanceAsked - s0.rebalanceAsked,
      flushMax: s1.flushMaxPerTurn,
      counts: counts(s0, s1, count),
      ...(othersAfter.length > 0
        ? {
            perCoordinator: coordinatorRuns(
              count,
              [before, ...othersBefore],
              [after, ...othersAfter],
              [s1, ...otherStats1].map((st, i) => (st.tasksFinished ?? 0) - ([s0, ...otherStats0][i].tasksFinished ?? 0)),
            ),
          }
        : {}),
    };
  } finally {
    await mesh.close();
  }
}

/** The coordinator's CPU over an idle window (%), with the probe's 10 ms CPU tick off (it would count itself, 11-20% of idle samples, session 6). */
async function idleWindow(cl: Cluster, what: string, fromLastProbe = false): Promise<{ pct: number; probe: Probe; othersPct: number[] }> {
  const s0 = await cl.stats();
  // `fromLastProbe`: its loop delay and GC pauses count from the probe before, not from its start (the heap
  // compaction after the last job runs in between: its pauses were in no window).
  const a = await cl.probe(!fromLastProbe, true);
  const oa = await cl.probeOthers(!fromLastProbe, true);
  const threads = threadsSince([...cl.coords.map((c) => c.p.pid), cl.redisPid]);
  const cpu0 = cpuSnapshot(processKinds(cl));
  const t0 = nowMs();
  await sleep(IDLE_MS);
  const byThread = threads();
  log(`${what}: CPU by process over the window: ${cpuByProcessLine(cpuBetween(cpu0, cpuSnapshot(processKinds(cl))), 0, nowMs() - t0)}`);
  const b = await cl.probe(true);
  const ob = await cl.probeOthers(true);
  const ms = nowMs() - t0;
  byThread(what, ms);
  const s1 = await cl.stats();
  logStalls(what, b);
  // What came in meanwhile: idle nodes' keepalives, and frames (heartbeats of nodes not idle).
  const perS = (k: string) => round(((s1[k] ?? 0) - (s0[k] ?? 0)) / (ms / 1000), 0);
  log(`${what}: ${perS('traffic.keepalivesIn')} keepalives/s, ${perS('traffic.nodeFramesIn')} node frames/s, ${perS('traffic.in.heartbeat')} heartbeats/s`);
  const othersPct = ob.map((p, i) => ((p.cpuUs - oa[i].cpuUs) / 1000 / ms) * 100);
  if (othersPct.length) log(`${what}: the other coordinators' CPU ${othersPct.map((x) => `${round(x, 1)}%`).join(', ')}`);
  return { pct: ((b.cpuUs - a.cpuUs) / 1000 / ms) * 100, probe: b, othersPct };
}

/** One repeat of a job, logged (`i`: which repeat). */
async function runRepeat(cl: Cluster, n: number, count: number, idleCpuFraction: number, i: number): Promise<Run> {
  const r = await runJob(cl, n, count, idleCpuFraction, i);
  const rep = i < 0 ? ` (warm-up run ${i + WARM + 1} of ${WARM}, not counted)` : REPEAT > 1 ? ` (repeat ${i + 1} of ${REPEAT})` : '';
  log(
    `N=${n}: ${count} tasks${rep}: ${round(r.tasksPerSec, 0)}/s, ${round(r.cpuUsPerTask, 1)} µs CPU/task (${round(r.cpuUsPerTaskNet, 1)} net of idle), loop ${round(r.loopMaxMs, 1)} ms (worst turn ${round(r.loopMaxCpuMs, 1)} ms CPU; longest GC ${round(r.gc.max, 1)} ms ${r.gc.maxKind}, ${r.gc.over50} over 50 ms), /api/stats ${round(r.statsWorstMs, 0)} ms (server ${round(r.statsServerMs, 1)} ms); loop budget: ${r.loopFloored} parts floored in ${r.loopIterations} iterations, ${r.loopLong} over 50 ms (${r.loopLongWithGc} with a GC pause; longest ${round(r.loopLongestMs, 0)} ms; their ms by part, and before, between and GC: ${columns(r.loopLongByPart)}${STALLS ? `; ${r.loopCpuLong} over 50 ms of the loop thread's CPU, their CPU ms: ${columns(r.loopCpuLongByPart)}; the most CPU in one: ${round(r.loopCpuLongestMs, 1)} ms: ${columns(r.loopCpuLongestByPart)}` : ''}); ${r.packed} packed, ${r.askedBack} asked back, at most ${r.flushMax} outboxes flushed in a turn`,
  );
  log(`N=${n}: ${count} tasks${rep}: ${countsLine(r.counts)}`);
  log(`N=${n}: ${count} tasks${rep}: CPU by process over the job: ${cpuByProcessLine(r.cpuByProcess, count, (count / r.tasksPerSec) * 1000)}`);
  for (const line of slowTurnLines(r.slow)) log(`N=${n}: ${count} tasks${rep}: ${line}`);
  for (const line of coordinatorRunLines(r.perCoordinator ?? [])) log(`N=${n}: ${count} tasks${rep}: ${line}`);
  log(`N=${n}: ${count} tasks${rep}: GC ${round((r.gc.ms / count) * 1000, 1)} ms a 1,000 tasks: ${gcLine(r.gc)}`);
  if (r.gc.bytes) log(`N=${n}: ${count} tasks${rep}: the coordinator's heap by GC (counts, not times): ${gcBytesLine(r.gc.bytes, count)}`);
  await sleep(1000);
  return r;
}

async function measure(n: number, jobs: number[], withChurn: boolean, { coordinators, spread, processes }: Layout): Promise<Row> {
  const cl = new Cluster(coordinators, spread);
  await cl.start();
  if (coordinators > 1)
    log(
      `N=${n}: ${coordinators} coordinators on one Redis: ${cl.urls.join(', ')} (the driver's first); nodes ${spread ? 'spread over them' : 'fill the first'}`,
    );
  try {
    log(`N=${n}: joining${processes === undefined ? '' : ` (${processes} node processes: SCALE_NODE_PROCESSES)`}`);
    const empty = await cl.probe(true, false, true, `n${n}-empty`);
    const j = await cl.join(n, processes);
    const joinProbe = await cl.probe(true);
    logStalls(`N=${n}: join`, joinProbe);
    for (const line of slowTurnLines(joinProbe.slow)) log(`N=${n}: join: ${line}`);
    log(
      `N=${n}: ${j.joined} joined, ${j.failed} failed in ${round(j.ms)} ms; worst loop delay ${round(joinProbe.loopMaxMs, 0)} ms, worst turn ${round(joinProbe.loopMaxCpuMs, 1)} ms CPU`,
      j.errors.slice(0, 3),
    );
    // Refused joins (COORDINATOR_FULL past the open-file bound): the jobs run on the nodes that joined.
    if (j.failed > 0) log(`N=${n}: ${j.failed} joins refused; the jobs run on the ${j.joined} nodes that joined`);
    if (coordinators > 1) log(`N=${n}: nodes by coordinator ${j.byCoordinator.join(' / ')}; ${j.sentOn} joins sent on by a full coordinator`);
    if (Object.keys(j.refusals).length) log(`N=${n}: failed join attempts by why: ${JSON.stringify(j.refusals)}`);
    await sleep(2000);
    const { pct: idleCpuPct, probe: b, othersPct } = await idleWindow(cl, `N=${n}: idle`);
    log(
      `N=${n}: idle CPU ${round(idleCpuPct, 1)}%, RSS ${round(b.rssBytes / MB, 0)} MB, worst loop delay ${round(b.loopMaxMs, 1)} ms, worst turn ${round(b.loopMaxCpuMs, 1)} ms CPU; ${memLine(b)}`,
    );
    // What a node costs in heap the coordinator keeps (issue 14): after full GCs, against the same process before
    // the join (the first joins' one-time costs, code and caches, count too: ~2 MB, most of the figure at 100 nodes).
    const live = await cl.probe(true, false, true, `n${n}-joined`);
    const liveHeapPerNode = ((live.liveHeapBytes ?? 0) - (empty.liveHeapBytes ?? 0)) / Math.max(1, j.joined);
    log(
      `N=${n}: live heap after full GCs ${round((live.liveHeapBytes ?? 0) / MB, 1)} MB (${round((empty.liveHeapBytes ?? 0) / MB, 1)} before the join): ${round(liveHeapPerNode, 0)} bytes a node; a full GC of it ${round(live.fullGcCpuMs ?? 0, 1)} ms CPU (${round(empty.fullGcCpuMs ?? 0, 1)} before the join)`,
    );
    const runs: Run[] = [];
    for (const count of jobs) {
      const cold: number[] = [];
      for (let i = -WARM; i < 0; i++) cold.push((await runRepeat(cl, n, count, idleCpuPct / 100, i)).tasksPerSec);
      const repeats: Run[] = [];
      for (let i = 0; i < REPEAT; i++) repeats.push(await runRepeat(cl, n, count, idleCpuPct / 100, i));
      runs.push({ ...combineRepeats(repeats), ...(cold.length ? { coldTasksPerSec: cold[0] } : {}) });
    } // Idle again once the jobs are done and freed (issue 14: idle CPU read higher in runs with jobs before it).
    let idleAfterPct: number | undefined;
    let idleAfterRssMb: number | undefined;
    if (runs.length > 0) {
      await sleep(2000);
      const after = await idleWindow(cl, `N=${n}: idle after the jobs`, true);
      idleAfterPct = after.pct;
      idleAfterRssMb = after.probe.rssBytes / MB;
      log(
        `N=${n}: idle CPU after the jobs ${round(after.pct, 1)}% (before ${round(idleCpuPct, 1)}%), RSS ${round(after.probe.rssBytes / MB, 0)} MB; ${memLine(after.probe)}; since the last job's results were freed: worst loop delay ${round(after.probe.loopMaxMs, 1)} ms; GC: ${gcLine(after.probe.gc)}`,
      );
    }
    let ch: Churn | undefined;
    if (withChurn) {
      ch = await churn(cl, n, jobs[0] ?? 20_000); // SCALE_JOBS=0 SCALE_CHURN=1: the churn run alone, of 20,000 tasks
      log(
        `N=${n}: churn: ${ch.tasks} tasks in ${round(ch.ms / 1000, 1)} s, exact ${ch.exact}, ${ch.retried} retried, ${ch.stolen} stolen, ${ch.joinFailed} newcomers refused; ${ch.dropped} dropped, ${ch.dropped - ch.backFailed} back in ${round(ch.backMs / 1000, 1)} s (${ch.backFailed} refused), then exact ${ch.afterExact}`,
      );
      const st = ch.storm;
      log(
        `N=${n}: churn: the return: joins ended after ${round(st.joinedMs / 1000, 1)} s${st.timedOut ? ', the count never matched (timed out)' : ''}; ${st.joinsPerSecMin}-${st.joinsPerSecMax} joins a second over ${st.seconds} samples; ${st.dropped} dropped meanwhile (${st.lostSilent} declared silent); breaches ${JSON.stringify(st.breaches)}; failed attempts ${JSON.stringify(st.refusals)}`,
      );
    }
    return {
      n,
      coordinators,
      spread,
      byCoordinator: j.byCoordinator,
      sentOn: j.sentOn,
      otherIdleCpuPct: othersPct,
      joinMs: j.ms,
      joined: j.joined,
      failed: j.failed,
      idleCpuPct,
      idleAfterPct,
      idleAfterRssMb,
      idleRssMb: b.rssBytes / MB,
      liveHeapPerNode,
      idleLoopMaxMs: b.loopMaxMs,
      joinLoopMaxCpuMs: joinProbe.loopMaxCpuMs,
      runs,
      churn: ch,
    };
  } finally {
    await cl.stop();
  }
}

runBench(async () => {
  const sizes = (process.env.SCALE_NODES ?? '100,1000,10000').split(',').map(Number);
  log(
    `node processes at nice ${NODES_NICE} (SCALE_NODES_NICE), coordinators at ${COORDINATOR_NICE} (SCALE_COORDINATOR_NICE)${COORDINATOR_SESSION ? ' in their own session (SCALE_COORDINATOR_SESSION=1)' : ''}${STALLS ? '; SCALE_STALLS=1: the probe costs CPU, do not read CPU per task from this run' : ''}`,
  );
  if (process.env.SCALE_20K === '1' && !sizes.includes(20000)) sizes.push(20000);
  const jobs = [20_000];
  if (process.env.SCALE_100K !== '0') jobs.push(100_000);
  // SCALE_JOBS=0: join and idle only (an idle profile).
  if (process.env.SCALE_JOBS === '0') jobs.length = 0;
  const rows: Row[] = [];
  // SCALE_CHURN=1: after the jobs at the largest N, the churn run.
  const churnAt = process.env.SCALE_CHURN === '1' ? Math.max(...sizes) : -1;
  // SCALE_COORDINATORS / SCALE_SPREAD, or as many coordinators as a size needs, its nodes spread (scale-layout.ts).
  const layout = layoutsFromEnv(sizes);
  for (const [i, n] of sizes.entries()) rows.push(await measure(n, jobs, n === churnAt, layout[i]));
  report(rows, STALLS);
});
