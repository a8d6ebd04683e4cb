// Task benchmarks: throughput, round-trip latency and coordinator memory.
//
//   npm run build && npm run bench:tasks
//
// A coordinator (--memory) and ONE edge node with 2 executors run as child
// processes; this process is the driver. Baselines are the same calls of an
// empty function through a piscina pool (worker_threads in this process).
// stdout: one JSON line per figure; stderr: diagnostics.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { connect, type Mesh } from '../edge/index.js';
import { MB, emit, figure, log, nowMs, pairedFigure, percentile, pollStats, round, startCluster, type BenchCluster, type Figure, runBench } from './harness.js';
import { cpuTotal, drained, emptyBatch, meshPids, PathCost, roundTrips, settled, trafficPerTask, type Noop } from './empty-tasks.js';
import { durableRounds, per1000, piscinaBatch, THROUGHPUT_TASKS, throughputFigures, throughputRounds } from './tasks-rounds.js';

/** Rounds of each contender (the durable GCS phase: DURABLE_ROUNDS); medians of per-round ratios need a few. TASKS_ROUNDS=<n> for a profile run. */
const THROUGHPUT_ROUNDS = Number(process.env.TASKS_ROUNDS) || 9;
const DURABLE_ROUNDS = 5;
const WARMUP_TASKS = 2_000;
/**
 * Untimed full-size batches first: in a run with a warm-up of 2,000 tasks the
 * rounds' ratio climbed 0.36 -> 0.94 over 9 rounds (the processes' JIT and
 * heaps settling), so the median said how many rounds there were.
 */
const WARMUP_BATCHES = 3;
const LATENCY_TASKS = 2_000;
const LATENCY_BLOCK = 250;
/**
 * Untimed sequential round trips of each contender before phase (b)'s timed blocks (TASKS_LATENCY_WARMUP=<n>; 500
 * until session 25). V8 compiles the sequential path (direct submission, shortcuts, single gets: the batches do not
 * warm it) over its first ~3,500 round trips: with 500, the timed blocks held 138 of the driver's 220 TurboFan
 * compilations, p50 fell from 0.38 to 0.20 ms block by block, and the helper threads compiling were a third of each
 * process's CPU (issue 14, session 25). The untimed ones are still printed, by block (the cold path's figure).
 */
const LATENCY_WARMUP = Number(process.env.TASKS_LATENCY_WARMUP) || 4_000;
const LATENCY_WARMUP_BLOCK = 1_000;
const MEMORY_TASKS = 100_000;
const MEMORY_BATCH = 10_000;
const CPUS = 2;
/** How long (c') waits for the coordinator to report the compaction of its heap (it takes 3-5 s: cli/heap.ts). */
const COMPACT_TIMEOUT_MS = 30_000;

/** Which phases run: TASKS_PHASES=d (letters a-d) runs only the durable GCS's; all by default. */
const PHASES = new Set((process.env.TASKS_PHASES ?? 'abcd').split(''));
/** The coordinator takes task groups (its default); TASKS_GROUPS=0: it does not (`--no-groups`): each batch task travels alone, as before session 26. */
const GROUPS = process.env.TASKS_GROUPS !== '0';

const WORKER_FILE = fileURLToPath(new URL('./noop-worker.js', import.meta.url));

function describe(xs: number[]): string {
  return `min ${round(Math.min(...xs))} p50 ${round(percentile(xs, 50))} p90 ${round(percentile(xs, 90))} p99 ${round(percentile(xs, 99))} max ${round(Math.max(...xs))}`;
}

async function main(): Promise<void> {
  const t0 = nowMs();
  // The 1-minute load average beside each phase: on a shared machine a figure is starvation as often as cost.
  const phase = (name: string) => log(`--- ${name} (t=${round((nowMs() - t0) / 1000, 1)} s, load ${loadavg()[0].toFixed(1)})`);
  // Printed as soon as measured, so a later failure still leaves the earlier figures.
  const record = (f: Figure) => emit(f);
  let cl: BenchCluster | null = null;
  let mesh: Mesh | null = null;
  const pool2 = new Piscina({ filename: WORKER_FILE, minThreads: 2, maxThreads: 2 });
  const pool1 = new Piscina({ filename: WORKER_FILE, minThreads: 1, maxThreads: 1 });
  try {
    phase('start: coordinator + 1 edge node (child processes)');
    cl = await startCluster({ nodes: 1, cpus: CPUS, coordinatorArgs: GROUPS ? [] : ['--no-groups'] });
    const idle = await cl.stats();
    log(`coordinator ${cl.url} (pid ${cl.coordinator.proc.pid}), node pid ${cl.nodes[0].proc.pid}; idle stats:`, idle);
    const idleRssMb = idle.rssBytes / MB;

    mesh = await connect({ url: cl.url, token: cl.token });
    const m = mesh;
    const noop = m.remote(function noop() {}) as Noop;

    // ------------------------------------------------------------ warm-up
    phase(`warm-up: ${WARMUP_BATCHES} batches of ${THROUGHPUT_TASKS} and 200 sequential tasks each (tabmesh, piscina)`);
    {
      let t = nowMs();
      for (let i = 0; i < WARMUP_BATCHES; i++) {
        m.free(await emptyBatch(m, noop, THROUGHPUT_TASKS));
        await drained(cl);
      }
      log(`tabmesh warm-up ${WARMUP_BATCHES} batches of ${THROUGHPUT_TASKS}: ${round(nowMs() - t)} ms`);
      t = nowMs();
      for (let i = 0; i < 200; i++) {
        const r = noop.remote();
        await m.get(r);
        m.free(r);
      }
      log(`tabmesh warm-up 200 sequential ${round(nowMs() - t)} ms`);
      t = nowMs();
      for (let i = 0; i < WARMUP_BATCHES; i++) await piscinaBatch(pool2, THROUGHPUT_TASKS);
      for (let i = 0; i < 200; i++) await pool1.run(null);
      await piscinaBatch(pool1, WARMUP_TASKS);
      log(`piscina warm-up ${round(nowMs() - t)} ms`);
      const d = await drained(cl);
      log(`after warm-up: tasks ${d.stats.tasks} objects ${d.stats.objects} (drained: ${d.met}, ${round(d.waitedMs)} ms)`);
    }

    // ------------------------------------------------------------ (a) throughput
    if (PHASES.has('a')) {
      phase(`(a) throughput: ${THROUGHPUT_TASKS} tasks at once, ${THROUGHPUT_ROUNDS} interleaved rounds each, medians of per-round ratios (noisy machine)`);
      const before = await cl.stats();
      const a = await throughputRounds(cl, m, noop, pool2, '', THROUGHPUT_ROUNDS);
      const after = await cl.stats();
      log(
        `coordinator traffic per batch task (its counters, ${THROUGHPUT_ROUNDS} rounds with their frees): ${trafficPerTask(before, after, THROUGHPUT_ROUNDS * THROUGHPUT_TASKS)}`,
      );
      const dg = (k: string) => (after[k] ?? 0) - (before[k] ?? 0);
      log(
        `task groups ${GROUPS ? 'on' : 'off (TASKS_GROUPS=0)'}: ${dg('groupsSubmitted')} groups, ${dg('groupSlices')} slices, ${dg('groupMembersPlaced')} members placed, ${dg('groupMembersMaterialized')} materialized`,
      );
      for (const f of throughputFigures('tasks.throughput', 'tasks.cpu_ms_per_1000', a, true)) record(f);
    }

    // ------------------------------------------------------------ (b) latency
    if (PHASES.has('b')) {
      phase(`(b) latency: ${LATENCY_TASKS} sequential round trips each, alternating blocks of ${LATENCY_BLOCK}`);
      const tmLat: number[] = [];
      const piLat: number[] = [];
      // The path alone: an untimed block of each first, then the processes quiet (the previous phase's GC finished).
      const cold: string[] = [];
      for (let done = 0; done < LATENCY_WARMUP; done += LATENCY_WARMUP_BLOCK) {
        const block: number[] = [];
        await roundTrips(m, noop, Math.min(LATENCY_WARMUP_BLOCK, LATENCY_WARMUP - done), block);
        cold.push(`${round(percentile(block, 50), 3)}`);
      }
      log(`untimed round trips, p50 ms by block of ${LATENCY_WARMUP_BLOCK} (V8 still compiling the path): ${cold.join(', ')}`);
      for (let i = 0; i < LATENCY_WARMUP; i++) await pool1.run(null);
      const quiet = await settled(meshPids(cl));
      log(
        `before the timed blocks: ${LATENCY_WARMUP} untimed round trips each, then quiet after ${round(quiet.waitedMs)} ms (mesh CPU ${round(quiet.lastPct, 1)}% of a core)`,
      );
      const cost = new PathCost(meshPids(cl));
      const statsBefore = await cl.stats();
      const blocks: string[] = [];
      for (let done = 0; done < LATENCY_TASKS; done += LATENCY_BLOCK) {
        const n = Math.min(LATENCY_BLOCK, LATENCY_TASKS - done);
        await cost.during(() => roundTrips(m, noop, n, tmLat));
        blocks.push(`${round(percentile(tmLat.slice(-n), 50), 3)}`);
        for (let i = 0; i < n; i++) {
          const t = nowMs();
          await pool1.run(null);
          piLat.push(nowMs() - t);
        }
      }
      // What crossed the coordinator per sequential task (piscina's blocks between send it nothing): a direct task's
      // record, done and release, and the subscribes and barriers that some of them need.
      const statsAfter = await cl.stats();
      log(`tabmesh latency ms: ${describe(tmLat)}; p50 by timed block of ${LATENCY_BLOCK}: ${blocks.join(', ')}`);
      log(`tabmesh per sequential task: ${cost.describe(tmLat.length)}`);
      log(`coordinator traffic per sequential task: ${trafficPerTask(statsBefore, statsAfter, tmLat.length)}`);
      // Result shortcuts (docs/decisions.md "A small result goes straight to its driver"): taken, late, refused so far.
      log(`result shortcuts: ${JSON.stringify((m.core as { shortcuts?: { counts: unknown } }).shortcuts?.counts ?? null)}`);
      log(`piscina latency ms: ${describe(piLat)}`);
      record(figure('tasks.latency.p50', percentile(tmLat, 50), 'ms', percentile(piLat, 50)));
      record(figure('tasks.latency.p99', percentile(tmLat, 99), 'ms', percentile(piLat, 99)));
      const d = await drained(cl);
      log(`after latency: tasks ${d.stats.tasks} objects ${d.stats.objects} (drained: ${d.met})`);
    }

    // ------------------------------------------------------------ (c) memory
    if (PHASES.has('c')) {
      phase(`(c) coordinator RSS: ${MEMORY_TASKS} tasks in batches of ${MEMORY_BATCH}, each got then freed`);
      const before = await cl.stats();
      log(`before: rss ${round(before.rssBytes / MB, 1)} MB heapUsed ${round(before.heapUsedBytes / MB, 1)} MB tasksFinished ${before.tasksFinished}`);
      let peakRss = before.rssBytes;
      for (let done = 0; done < MEMORY_TASKS; done += MEMORY_BATCH) {
        const t = nowMs();
        const refs = await emptyBatch(m, noop, MEMORY_BATCH);
        m.free(refs);
        const s = await cl.stats();
        peakRss = Math.max(peakRss, s.rssBytes);
        log(
          `batch ${done / MEMORY_BATCH + 1}: ${round(nowMs() - t, 0)} ms; rss ${round(s.rssBytes / MB, 1)} MB heapUsed ${round(s.heapUsedBytes / MB, 1)} MB ` +
            `tasks ${s.tasks} objects ${s.objects} (sampled right after free(); the release is still in flight)`,
        );
      }
      const d = await drained(cl);
      if (!d.met) log(`WARNING: tasks/objects did not drop to near 0 within ${round(d.waitedMs, 0)} ms`);
      log(`after ${MEMORY_TASKS} tasks (drained: ${d.met} after ${round(d.waitedMs, 0)} ms), coordinator stats:`, d.stats);
      const drainMb = d.stats.rssBytes / MB;
      log(`coordinator rss at the drain ${round(drainMb, 1)} MB (peak sampled between batches ${round(peakRss / MB, 1)} MB): pages V8 has not given back yet`);
      record(figure('coordinator.rss_at_drain', drainMb, 'MB', idleRssMb));

      // Idle again, `tabmesh coordinator` compacts its heap (cli/heap.ts, issue 14) and counts it in
      // /api/stats: the figure is its RSS at that moment, not after a wait of our choosing. Asked every
      // 500 ms: V8 shrinks its young generation only once the allocation rate is low; asked every 50 ms
      // it did not shrink within the 40 GCs (load 15, one run), every 250 ms it did after 5 s.
      phase(`(c') idle: the coordinator's RSS once it has compacted its heap after the burst`);
      const compacted = await pollStats(cl.url, cl.token, (s) => s.heapCompactions > before.heapCompactions, { timeoutMs: COMPACT_TIMEOUT_MS, everyMs: 500 });
      const rssMb = compacted.stats.rssBytes / MB;
      if (!compacted.met) log(`WARNING: the coordinator did not report a compaction within ${COMPACT_TIMEOUT_MS / 1000} s`);
      log(
        `coordinator rss ${round(rssMb, 1)} MB heapUsed ${round(compacted.stats.heapUsedBytes / MB, 1)} MB, ${round(compacted.waitedMs / 1000, 1)} s after the drain ` +
          `(compaction: ${compacted.stats.heapCompactionGcs} full GCs over ${compacted.stats.heapCompactionMs} ms, ${compacted.stats.heapCompactionScavenges} scavenges, the longest ${compacted.stats.heapCompactionMaxGcMs} ms, the last ${compacted.stats.heapCompactionLastGcMs} ms, compacting ones so far ${compacted.stats.heapCompactionsMoved}) vs idle at start ${round(idleRssMb, 1)} MB ` +
          `heapUsed ${round(idle.heapUsedBytes / MB, 1)} MB (target < 100 MB, issue 14: ${rssMb < 100 ? 'ok' : 'MISSED'}); ` +
          `the coordinator ran ${compacted.stats.tasksFinished} tasks in total this run (${compacted.stats.tasksFinished - before.tasksFinished} in this phase)`,
      );
      record(figure('coordinator.rss_after_100k', rssMb, 'MB', idleRssMb));
    }

    // ------------------------------------------------------------ (d) durable GCS
    // Against the in-memory GCS in the same run (issue 14 asks >= 0.9x): both clusters up, rounds
    // alternating memory / durable / piscina, each round's ratio durable / memory.
    if (PHASES.has('d')) {
      phase(
        `(d) throughput with the durable (SQLite) GCS, the default of npm start, against --memory: ${THROUGHPUT_TASKS} tasks, ${DURABLE_ROUNDS} interleaved rounds each`,
      );
      const dcl = await startCluster({ nodes: 1, cpus: CPUS, durable: true, coordinatorArgs: GROUPS ? [] : ['--no-groups'] });
      const dm = await connect({ url: dcl.url, token: dcl.token });
      try {
        const dnoop = dm.remote(function noop() {}) as Noop;
        for (let i = 0; i < WARMUP_BATCHES; i++) {
          dm.free(await emptyBatch(dm, dnoop, THROUGHPUT_TASKS));
          await drained(dcl);
        }
        const d = await durableRounds({ c: cl, m, noop }, { c: dcl, m: dm, noop: dnoop }, pool2, DURABLE_ROUNDS);
        for (const f of throughputFigures('tasks.throughput.durable_gcs', 'tasks.durable_gcs.cpu_ms_per_1000', d.durable, false)) record(f);
        record(pairedFigure('tasks.throughput.durable_vs_memory', d.durable.tm, d.memory, 'tasks/s'));
        record(
          pairedFigure(
            'tasks.durable_vs_memory.cpu_ms_per_1000',
            d.durable.cpu.map((x) => per1000(cpuTotal(x))),
            d.memoryCpu.map((x) => per1000(cpuTotal(x))),
            'ms',
          ),
        );
        const s = await dcl.stats();
        log(`durable coordinator after the phase: gcsFlushes ${s.gcsFlushes} gcsRowsWritten ${s.gcsRowsWritten}`);
      } finally {
        await dm.close().catch((e) => log(`durable mesh.close: ${e}`));
        await dcl.stop();
      }
    }

    phase('done');
  } finally {
    await mesh?.close().catch((e) => log(`mesh.close: ${e}`));
    await Promise.all([pool1.destroy(), pool2.destroy()]).catch(() => {});
    await cl?.stop();
  }
}

runBench(main);
