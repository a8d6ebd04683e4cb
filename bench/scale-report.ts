// bench:scale's results (issue 14): what one size and one job measured, and
// the report of a run: one JSON figure a line on stdout (ratios against the
// smallest N of the run), and a table on stderr.
import { emit, figure, median, round } from './harness.js';
import type { Churn } from './scale-churn.js';
import type { Counts } from './scale-counts.js';
import type { Probe } from './scale-coordinator.js';
import { coordinatorTable, emitCoordinatorRuns, othersOf, type CoordinatorRun } from './scale-per-coordinator.js';
import type { SlowTurnReport } from './scale-slow-turns.js';

/** The coordinator's loop and GC figures of a job, as its probe reports them (bench/scale-coordinator.ts). */
type LoopFigures = Pick<
  Probe,
  | 'loopMaxCpuMs'
  | 'gc'
  | 'loopIterations'
  | 'loopFloored'
  | 'loopLong'
  | 'loopLongestMs'
  | 'loopLongByPart'
  | 'loopLongWithGc'
  | 'loopCpuLong'
  | 'loopCpuLongByPart'
  | 'loopCpuLongestMs'
  | 'loopCpuLongestByPart'
>;

export interface Run extends LoopFigures {
  tasks: number;
  /** Tasks/s of each repeat of the job (SCALE_REPEAT), in the order they ran: the run's figures are the median repeat's. */
  tasksPerSecAll: number[];
  /** Tasks/s of the job's first run at this size, a warm-up not counted in the repeats (SCALE_WARM). */
  coldTasksPerSec?: number;
  /** From the driver's free of the results to the coordinator holding no more tasks and objects than before the job: time, coordinator CPU per task, worst loop delay. */
  freeMs: number;
  freeCpuUsPerTask: number;
  freeLoopMaxMs: number;
  tasksPerSec: number;
  /** CPU over the job by process kind (ms; bench/scale-cpu.ts): driver, coordinator<i>, nodes, redis, others (the rest of the machine). */
  cpuByProcess: Record<string, number>;
  cpuUsPerTask: number;
  /** Less what the coordinator spends idle over as long (heartbeats, sampling): what the tasks themselves cost. */
  cpuUsPerTaskNet: number;
  loopMaxMs: number;
  /** The tick's gaps over 40 ms and what they were (bench/scale-slow-turns.ts); of the repeats, the one with the longest. */
  slow: SlowTurnReport;
  /** The coordinator's RSS once the job's results were freed (MB). */
  rssAfterMb: number;
  statsWorstMs: number;
  /** The longest /api/stats on the server side (the probe's statsServerMaxMs). */
  statsServerMs: number;
  /** Tasks placed on a node already given work in that turn (scheduler TURN_NODES). */
  packed: number;
  /** Tasks the rebalancer asked busy nodes to hand back. */
  askedBack: number;
  /** The most outboxes flushed in one turn (coordinator/flush-turns.ts), over the coordinator's life. */
  flushMax: number;
  /** Frames, messages, nodes touched and re-filings per task (bench/scale-counts.ts). */
  counts: Counts;
  /** SCALE_COORDINATORS > 1: each coordinator's part of the job, the driver's first (bench/scale-per-coordinator.ts). */
  perCoordinator?: CoordinatorRun[];
}

export interface Row {
  n: number;
  /** Coordinators of the mesh (SCALE_COORDINATORS), the nodes each held after the join, and joins a full one sent on. */
  coordinators: number;
  /** The nodes were spread over the coordinators (SCALE_SPREAD), else the first took them all (while it had room). */
  spread: boolean;
  byCoordinator: number[];
  sentOn: number;
  /** The other coordinators' idle CPU (%), one each. */
  otherIdleCpuPct: number[];
  joinMs: number;
  joined: number;
  failed: number;
  idleCpuPct: number;
  /** Idle CPU again after the jobs (none without jobs). */
  idleAfterPct?: number;
  /** RSS at the end of the idle window after the jobs (MB). */
  idleAfterRssMb?: number;
  idleRssMb: number;
  /** The coordinator's heap after full GCs, less its heap before the join, a node (bytes). */
  liveHeapPerNode: number;
  idleLoopMaxMs: number;
  /** The worst turn of the coordinator's loop in CPU ms while nodes joined. */
  joinLoopMaxCpuMs: number;
  runs: Run[];
  churn?: Churn;
}

/**
 * One job's repeats as one Run (SCALE_REPEAT, issue 14: the 100-node baseline swung 20k-29k tasks/s between
 * runs): throughput and CPU figures of the median repeat by tasks/s, every repeat's tasks/s kept for the
 * spread, and the worst of every repeat for the loop, GC and /api/stats figures (a repeat's stall is not
 * hidden by the median).
 */
export function combineRepeats(runs: Run[]): Run {
  if (runs.length === 0) throw new Error('no repeats to combine');
  const byRate = [...runs].sort((a, b) => a.tasksPerSec - b.tasksPerSec);
  const mid = byRate[(byRate.length - 1) >> 1];
  const worst = (f: (r: Run) => number) => Math.max(...runs.map(f));
  const worstGc = runs.reduce((a, b) => (b.gc.max > a.gc.max ? b : a)).gc;
  return {
    ...mid,
    tasksPerSecAll: runs.map((r) => r.tasksPerSec),
    loopMaxMs: worst((r) => r.loopMaxMs),
    loopMaxCpuMs: worst((r) => r.loopMaxCpuMs),
    slow: runs.reduce((a, b) => ((b.slow.top[0]?.delayMs ?? 0) > (a.slow.top[0]?.delayMs ?? 0) ? b : a)).slow,
    freeLoopMaxMs: worst((r) => r.freeLoopMaxMs),
    statsWorstMs: worst((r) => r.statsWorstMs),
    statsServerMs: worst((r) => r.statsServerMs),
    loopLongestMs: worst((r) => r.loopLongestMs),
    loopCpuLongestMs: worst((r) => r.loopCpuLongestMs),
    loopLong: worst((r) => r.loopLong),
    loopLongWithGc: worst((r) => r.loopLongWithGc),
    loopCpuLong: worst((r) => r.loopCpuLong),
    gc: { ...mid.gc, max: worstGc.max, maxKind: worstGc.maxKind, over50: worst((r) => r.gc.over50) },
  };
}

/** "heap 412 of 530 MB (new 32/3, old 480/390, ...), external 12 MB (ArrayBuffers 9)": where a probe's RSS is. */
export const memLine = (p: Probe): string => {
  const m = p.mem;
  const spaces = Object.entries(m.spaces)
    .map(([k, s]) => `${k.replace(/_space$/, '')} ${round(s.size, 0)}/${round(s.used, 0)}`)
    .join(', ');
  return `heap ${round(m.heapUsed, 0)} used of ${round(m.heapTotal, 0)} MB (committed/used by space: ${spaces}), external ${round(m.external, 0)} MB (ArrayBuffers ${round(m.arrayBuffers, 0)})`;
};

/** "62 ms gap, 41 in the run queue, gc": the longest tick gap of a job and what it was. */
const worstGap = (s: SlowTurnReport): string => {
  const t = s.top[0];
  return t ? `${round(t.delayMs, 0)} ms gap, ${round(t.waitMs, 0)} in the run queue, ${t.cause}` : 'no gap over 40 ms';
};

/** The spread of tasks/s over a job's repeats: "median (min-max, n)". */
const spread = (run: Run): string =>
  run.tasksPerSecAll.length > 1
    ? `${round(median(run.tasksPerSecAll), 0)} (${round(Math.min(...run.tasksPerSecAll), 0)}-${round(Math.max(...run.tasksPerSecAll), 0)}, ${run.tasksPerSecAll.length} runs)`
    : `${round(run.tasksPerSec, 0)}`;

/** Every figure of the run on stdout, and the table on stderr; `stalls`: the run had SCALE_STALLS=1 (iterations by CPU). */
export function report(rows: Row[], stalls: boolean): void {
  const base = rows[0];
  for (const r of rows) {
    const b = r === base ? null : base;
    emit(figure(`scale.n${r.n}.join_ms`, r.joinMs, 'ms'));
    if (r.coordinators > 1) {
      emit(figure(`scale.n${r.n}.coordinators`, r.coordinators, 'coordinators'));
      emit(figure(`scale.n${r.n}.join_sent_on`, r.sentOn, 'joins'));
      r.byCoordinator.forEach((k, i) => emit(figure(`scale.n${r.n}.nodes_on_coordinator${i}`, k, 'nodes')));
      r.otherIdleCpuPct.forEach((x, i) => emit(figure(`scale.n${r.n}.idle_cpu_coordinator${i + 1}`, x, '%')));
    }
    emit(figure(`scale.n${r.n}.joined`, r.joined, 'nodes'));
    emit(figure(`scale.n${r.n}.join_failed`, r.failed, 'nodes'));
    emit(figure(`scale.n${r.n}.join_turn_cpu_max`, r.joinLoopMaxCpuMs, 'ms'));
    emit(figure(`scale.n${r.n}.idle_cpu`, r.idleCpuPct, '%', b?.idleCpuPct ?? null));
    if (r.idleAfterPct !== undefined) emit(figure(`scale.n${r.n}.idle_cpu_after_jobs`, r.idleAfterPct, '%', r.idleCpuPct));
    if (r.idleAfterRssMb !== undefined) emit(figure(`scale.n${r.n}.idle_rss_after_jobs`, r.idleAfterRssMb, 'MB', r.idleRssMb));
    emit(figure(`scale.n${r.n}.idle_rss`, r.idleRssMb, 'MB', b?.idleRssMb ?? null));
    // No ratio: the figure carries the first joins' one-time costs (code, caches), large at 100 nodes.
    emit(figure(`scale.n${r.n}.live_heap_per_node`, r.liveHeapPerNode, 'bytes'));
    r.runs.forEach((run, i) => {
      const br = b?.runs[i] ?? null;
      const k = `scale.n${r.n}.tasks${run.tasks}`;
      emit(figure(`${k}.tasks_per_s`, run.tasksPerSec, 'tasks/s', br?.tasksPerSec ?? null));
      // The spread of the repeats, and the ratio's range: this size's slowest over the base's fastest, and the reverse.
      const lo = Math.min(...run.tasksPerSecAll);
      const hi = Math.max(...run.tasksPerSecAll);
      emit(figure(`${k}.tasks_per_s_min`, lo, 'tasks/s', br ? Math.max(...br.tasksPerSecAll) : null));
      emit(figure(`${k}.tasks_per_s_max`, hi, 'tasks/s', br ? Math.min(...br.tasksPerSecAll) : null));
      emit(figure(`${k}.cpu_per_task`, run.cpuUsPerTask, 'µs', br?.cpuUsPerTask ?? null));
      emit(figure(`${k}.cpu_per_task_net`, run.cpuUsPerTaskNet, 'µs', br?.cpuUsPerTaskNet ?? null));
      emit(figure(`${k}.loop_delay_max`, run.loopMaxMs, 'ms'));
      emit(figure(`${k}.loop_turn_cpu_max`, run.loopMaxCpuMs, 'ms'));
      // The longest gap of the coordinator's 10 ms tick and how much of it its loop thread waited for a core.
      emit(figure(`${k}.loop_slow_turns`, run.slow.over, 'gaps over 40 ms'));
      emit(figure(`${k}.loop_slow_turn_max`, run.slow.top[0]?.delayMs ?? 0, 'ms'));
      emit(figure(`${k}.loop_slow_turn_max_run_queue`, run.slow.top[0]?.waitMs ?? 0, 'ms'));
      emit(figure(`${k}.gc_pause_max`, run.gc.max, 'ms'));
      emit(figure(`${k}.gc_ms_per_1k_tasks`, (run.gc.ms / run.tasks) * 1000, 'ms', br ? (br.gc.ms / br.tasks) * 1000 : null));
      // Counts that hold under load (bench/scale-gc.ts GcBytes): what a task allocates, and what scavenges copy or promote of it.
      const bytes = (r: Run | null | undefined, f: (b: NonNullable<Run['gc']['bytes']>) => number) => (r?.gc.bytes ? f(r.gc.bytes) / r.tasks : null);
      const alloc = bytes(run, (b) => b.allocated);
      if (alloc !== null)
        emit(
          figure(
            `${k}.gc_allocated_bytes_per_task`,
            alloc,
            'B',
            bytes(br, (b) => b.allocated),
          ),
        );
      const kept = bytes(run, (b) => b.copied + b.promoted);
      if (kept !== null)
        emit(
          figure(
            `${k}.gc_survived_bytes_per_task`,
            kept,
            'B',
            bytes(br, (b) => b.copied + b.promoted),
          ),
        );
      emit(figure(`${k}.gc_scavenges`, run.gc.byKind.minor?.n ?? 0, 'pauses'));
      emit(figure(`${k}.gc_mark_compacts`, run.gc.byKind.major?.n ?? 0, 'pauses'));
      emit(figure(`${k}.loop_long_with_gc`, run.loopLongWithGc, 'iterations'));
      emit(figure(`${k}.rss_after_free`, run.rssAfterMb, 'MB', br?.rssAfterMb ?? null));
      emit(figure(`${k}.loop_long_iterations`, run.loopLong, 'iterations'));
      if (stalls) {
        emit(figure(`${k}.loop_cpu_long_iterations`, run.loopCpuLong, 'iterations'));
        emit(figure(`${k}.loop_iteration_cpu_max`, run.loopCpuLongestMs, 'ms'));
      }
      emit(figure(`${k}.stats_latency_max`, run.statsWorstMs, 'ms'));
      emit(figure(`${k}.free_ms`, run.freeMs, 'ms'));
      emit(figure(`${k}.free_cpu_per_task`, run.freeCpuUsPerTask, 'µs', br?.freeCpuUsPerTask ?? null));
      emit(figure(`${k}.free_loop_delay_max`, run.freeLoopMaxMs, 'ms'));
      emit(figure(`${k}.packed`, run.packed, 'tasks'));
      emit(figure(`${k}.asked_back`, run.askedBack, 'tasks'));
      emit(figure(`${k}.node_frames_per_task`, run.counts.nodeFrames, 'frames', br?.counts.nodeFrames ?? null));
      emit(figure(`${k}.nodes_touched_per_task`, run.counts.nodeTurns, 'nodes', br?.counts.nodeTurns ?? null));
      const others = othersOf(run.perCoordinator);
      if (others) {
        // What the mesh costs a task: every coordinator's CPU, against the baseline's one.
        emit(figure(`${k}.others_cpu_per_task`, others.cpuUsPerTask, 'µs'));
        emit(
          figure(
            `${k}.mesh_cpu_per_task`,
            run.cpuUsPerTask + others.cpuUsPerTask,
            'µs',
            br ? br.cpuUsPerTask + (othersOf(br.perCoordinator)?.cpuUsPerTask ?? 0) : null,
          ),
        );
        emit(figure(`${k}.others_loop_delay_max`, others.loopMaxMs, 'ms'));
        emit(figure(`${k}.tasks_on_others`, others.tasks, 'tasks'));
      }
      if (run.perCoordinator) emitCoordinatorRuns(k, run.perCoordinator, br?.cpuUsPerTask ?? null);
      // Where the machine's CPU went over the job, a task: each process kind's, against the base's same kind.
      for (const [kind, ms] of Object.entries(run.cpuByProcess))
        emit(
          figure(
            `${k}.cpu_by_process.${kind}`,
            (ms * 1000) / run.tasks,
            'µs',
            br?.cpuByProcess[kind] !== undefined ? (br.cpuByProcess[kind] * 1000) / br.tasks : null,
          ),
        );
    });
    if (r.churn) {
      const c = r.churn;
      emit(figure(`scale.n${r.n}.churn.job_ms`, c.ms, 'ms'));
      emit(figure(`scale.n${r.n}.churn.exact`, c.exact && c.afterExact ? 1 : 0, 'bool'));
      emit(figure(`scale.n${r.n}.churn.stolen`, c.stolen, 'tasks'));
      emit(figure(`scale.n${r.n}.churn.all_back_ms`, c.backMs, 'ms'));
      emit(figure(`scale.n${r.n}.churn.join_failed`, c.joinFailed + c.backFailed, 'nodes'));
    }
  }
  const lines = [
    '| nodes | coordinators (nodes each) | joined | join | refused | idle CPU | RSS | tasks | tasks/s (median (min-max) of the repeats) | CPU/task (net of idle) | worst loop delay (worst turn, CPU; the longest tick gap: its run-queue wait, cause) | worst /api/stats | others: CPU/task, loop, tasks run |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    for (const run of r.runs) {
      const o = othersOf(run.perCoordinator);
      const others = o
        ? `${round(o.cpuUsPerTask, 0)} µs, ${round(o.loopMaxMs, 0)} ms, ${o.tasks} (idle ${r.otherIdleCpuPct.map((x) => `${round(x, 1)}%`).join(', ')})`
        : '-';
      lines.push(
        `| ${r.n} | ${r.coordinators}${r.coordinators > 1 ? ` (${r.byCoordinator.join(' / ')}; ${r.sentOn} sent on)` : ''} | ${r.joined} | ${round(r.joinMs / 1000, 1)} s | ${r.failed} | ${round(r.idleCpuPct, 1)}% | ${round(r.idleRssMb, 0)} MB | ${run.tasks} | ${spread(run)} | ${round(run.cpuUsPerTask, 0)} µs (${round(run.cpuUsPerTaskNet, 0)}) | ${round(run.loopMaxMs, 0)} ms (${round(run.loopMaxCpuMs, 0)} ms; ${worstGap(run.slow)}) | ${round(run.statsWorstMs, 0)} ms | ${others} |`,
      );
    }
  }
  // The ratio of each size's median tasks/s to the base's, and its range over the repeats.
  for (const r of rows.slice(1))
    for (const [i, run] of r.runs.entries()) {
      const br = base.runs[i];
      if (!br) continue;
      lines.push(
        `${run.tasks} tasks at ${r.n} nodes vs ${base.n}: ${round(run.tasksPerSec / br.tasksPerSec, 2)}x the median (range ${round(Math.min(...run.tasksPerSecAll) / Math.max(...br.tasksPerSecAll), 2)}-${round(Math.max(...run.tasksPerSecAll) / Math.min(...br.tasksPerSecAll), 2)}x over ${run.tasksPerSecAll.length} x ${br.tasksPerSecAll.length} repeats)${run.coldTasksPerSec !== undefined && br.coldTasksPerSec !== undefined ? `; the first, cold run (not counted): ${round(run.coldTasksPerSec, 0)} against ${round(br.coldTasksPerSec, 0)} tasks/s, ${round(run.coldTasksPerSec / br.coldTasksPerSec, 2)}x` : ''}`,
      );
    }
  lines.push(...cpuByProcessTable(rows));
  lines.push(...coordinatorTable(rows.map((r) => ({ ...r, idle: [r.idleCpuPct, ...r.otherIdleCpuPct] }))));
  lines.push(...spreadVsOne(rows));
  for (const r of rows) {
    const c = r.churn;
    if (!c) continue;
    lines.push(
      `churn at ${r.n} nodes: ${c.tasks} tasks with 10% leaving and 10% joining: ${round(c.ms / 1000, 1)} s, exact ${c.exact}, ${c.retried} retried, ${c.stolen} stolen for idle nodes, ${c.joinFailed} newcomers refused; all ${c.dropped} dropped: ${c.dropped - c.backFailed} back in ${round(c.backMs / 1000, 1)} s (${c.backFailed} refused), next job exact ${c.afterExact}`,
    );
  }
  process.stderr.write(lines.join('\n') + '\n');
}

/**
 * A line per process kind (driver, each coordinator, the node processes, Redis, the rest of the machine): its CPU
 * over each job of each size, µs a task (the median repeat's), and its share of the machine's busy time.
 */
function cpuByProcessTable(rows: Row[]): string[] {
  const cols = rows.flatMap((r) => r.runs.map((run) => ({ r, run })));
  if (cols.length === 0) return [];
  const kinds = [...new Set(cols.flatMap((c) => Object.keys(c.run.cpuByProcess)))];
  const total = (run: Run) => Object.values(run.cpuByProcess).reduce((a, x) => a + x, 0);
  const lines = [
    `| CPU over the job, µs a task (share) | ${cols.map((c) => `${c.r.n} nodes${c.r.coordinators > 1 ? ` on ${c.r.coordinators}` : ''}, ${c.run.tasks} tasks`).join(' | ')} |`,
    `|---|${cols.map(() => '---|').join('')}`,
  ];
  for (const kind of kinds)
    lines.push(
      `| ${kind} | ${cols
        .map(({ run }) => {
          const ms = run.cpuByProcess[kind];
          return ms === undefined ? '-' : `${round((ms * 1000) / run.tasks, 1)} (${round((ms / Math.max(1, total(run))) * 100, 0)}%)`;
        })
        .join(' | ')} |`,
    );
  lines.push(`| all | ${cols.map(({ run }) => `${round((total(run) * 1000) / run.tasks, 1)}`).join(' | ')} |`);
  return lines;
}

/** All of a row's nodes on one coordinator: one coordinator alone, or a mesh whose first took every node. */
const onOne = (r: Row): boolean => r.coordinators === 1 || r.byCoordinator.filter((k) => k > 0).length === 1;

/**
 * A job spread over several coordinators against one coordinator holding the same number of nodes, in the same
 * run (SCALE_SPREAD=0,1,0,1): each spread row against the one-coordinator rows of its size next to it (before and
 * after: alternated rows see the same load), as the median of those ratios of tasks/s; one JSON figure per job.
 */
function spreadVsOne(rows: Row[]): string[] {
  const lines: string[] = [];
  const ratios = new Map<string, number[]>();
  rows.forEach((r, i) => {
    if (!r.spread || r.coordinators < 2 || onOne(r)) return;
    const near = [rows[i - 1], rows[i + 1]].filter((o): o is Row => o !== undefined && o.n === r.n && onOne(o));
    for (const o of near)
      for (const [j, run] of r.runs.entries()) {
        const br = o.runs[j];
        if (!br) continue;
        const k = `scale.n${r.n}.tasks${run.tasks}`;
        ratios.set(k, [...(ratios.get(k) ?? []), run.tasksPerSec / br.tasksPerSec]);
        lines.push(
          `${run.tasks} tasks at ${r.n} nodes over ${r.coordinators} coordinators (${r.byCoordinator.join(' / ')}) vs one (${o.byCoordinator.join(' / ')}): ${round(run.tasksPerSec, 0)} vs ${round(br.tasksPerSec, 0)} tasks/s, ${round(run.tasksPerSec / br.tasksPerSec, 2)}x; mesh CPU a task ${round(run.cpuUsPerTask + (othersOf(run.perCoordinator)?.cpuUsPerTask ?? 0), 0)} vs ${round(br.cpuUsPerTask + (othersOf(br.perCoordinator)?.cpuUsPerTask ?? 0), 0)} µs`,
        );
      }
  });
  for (const [k, rs] of ratios) emit(figure(`${k}.spread_vs_one`, median(rs), 'x'));
  return lines;
}
