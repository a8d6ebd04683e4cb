// bench:scale over a mesh (SCALE_COORDINATORS, or a size past one coordinator's
// open-file bound): the figures that are a process's, one per coordinator
// (issue 14, session 24). The first coordinator is the driver's: it takes every
// submit and hands the mesh its share, so its CPU per task of the job is not the
// others'; each one's CPU is also given per task its own nodes ran.
import { emit, figure, round } from './figures.js';
import type { Probe } from './scale-coordinator.js';

/** One coordinator's part of a job: its CPU over the job, the tasks its nodes ran, its worst loop delay and GC pause. */
export interface CoordinatorRun {
  /** CPU over the job per task of the whole job (µs). */
  cpuUsPerTask: number;
  /** Tasks the coordinator's own nodes ran. */
  tasksRun: number;
  /** CPU over the job per task its own nodes ran (µs; null when they ran none). */
  cpuUsPerTaskRun: number | null;
  loopMaxMs: number;
  gcMaxMs: number;
}

/**
 * Each coordinator's part of a job of `count` tasks, the driver's first, from its probes before and after and the
 * tasks its nodes finished (`finished`, /api/stats tasksFinished after less before, one a coordinator). The
 * first's share is what the others' nodes did not run: its own count includes the tasks it handed on.
 */
export function coordinatorRuns(count: number, before: Probe[], after: Probe[], finished: number[]): CoordinatorRun[] {
  if (before.length !== after.length || after.length !== finished.length) throw new Error('one probe before, one after and one count a coordinator');
  const others = finished.slice(1).reduce((a, k) => a + k, 0);
  return after.map((p, i) => {
    const cpuUs = p.cpuUs - before[i].cpuUs;
    const tasksRun = i === 0 ? Math.max(0, count - others) : finished[i];
    return {
      cpuUsPerTask: cpuUs / count,
      tasksRun,
      cpuUsPerTaskRun: tasksRun > 0 ? cpuUs / tasksRun : null,
      loopMaxMs: p.loopMaxMs,
      gcMaxMs: p.gc.max,
    };
  });
}

/** The coordinators after the driver's, together: CPU per task of the job (summed), worst loop delay, tasks their nodes ran. */
export function othersOf(runs: CoordinatorRun[] | undefined): { cpuUsPerTask: number; loopMaxMs: number; tasks: number } | undefined {
  if (!runs || runs.length < 2) return undefined;
  const others = runs.slice(1);
  return {
    cpuUsPerTask: others.reduce((a, c) => a + c.cpuUsPerTask, 0),
    loopMaxMs: Math.max(...others.map((c) => c.loopMaxMs)),
    tasks: others.reduce((a, c) => a + c.tasksRun, 0),
  };
}

/** One log line per coordinator. */
export function coordinatorRunLines(runs: CoordinatorRun[]): string[] {
  return runs.map(
    (c, i) =>
      `coordinator ${i}${i === 0 ? " (the driver's)" : ''}: ${round(c.cpuUsPerTask, 1)} µs CPU a task of the job, its nodes ran ${c.tasksRun} (${c.cpuUsPerTaskRun === null ? '-' : round(c.cpuUsPerTaskRun, 1)} µs each), worst loop delay ${round(c.loopMaxMs, 1)} ms, longest GC ${round(c.gcMaxMs, 1)} ms`,
  );
}

/** Per-coordinator figures of a job (`key`: scale.n<N>.tasks<T>), CPU per task against the baseline's one coordinator. */
export function emitCoordinatorRuns(key: string, runs: CoordinatorRun[], baseCpuUsPerTask: number | null): void {
  runs.forEach((c, i) => {
    const k = `${key}.coordinator${i}`;
    emit(figure(`${k}.cpu_per_task`, c.cpuUsPerTask, 'µs', baseCpuUsPerTask));
    if (c.cpuUsPerTaskRun !== null) emit(figure(`${k}.cpu_per_task_run`, c.cpuUsPerTaskRun, 'µs', baseCpuUsPerTask));
    emit(figure(`${k}.tasks_run`, c.tasksRun, 'tasks'));
    emit(figure(`${k}.loop_delay_max`, c.loopMaxMs, 'ms'));
    emit(figure(`${k}.gc_pause_max`, c.gcMaxMs, 'ms'));
  });
}

/** The table of a mesh size: a line a coordinator and job (`idle`: each coordinator's idle CPU, the driver's first). */
export function coordinatorTable(
  rows: { n: number; byCoordinator: number[]; idle: number[]; runs: { tasks: number; perCoordinator?: CoordinatorRun[] }[] }[],
): string[] {
  const lines: string[] = [];
  for (const r of rows)
    for (const run of r.runs) {
      if (!run.perCoordinator) continue;
      if (lines.length === 0)
        lines.push(
          '| nodes | coordinator | its nodes | idle CPU | tasks | ran on its nodes | CPU per task of the job (per task it ran) | worst loop delay | longest GC |',
          '|---|---|---|---|---|---|---|---|---|',
        );
      run.perCoordinator.forEach((c, i) =>
        lines.push(
          `| ${r.n} | ${i}${i === 0 ? ' (driver)' : ''} | ${r.byCoordinator[i] ?? 0} | ${r.idle[i] === undefined ? '-' : `${round(r.idle[i], 1)}%`} | ${run.tasks} | ${c.tasksRun} | ${round(c.cpuUsPerTask, 0)} µs (${c.cpuUsPerTaskRun === null ? '-' : `${round(c.cpuUsPerTaskRun, 0)} µs`}) | ${round(c.loopMaxMs, 0)} ms | ${round(c.gcMaxMs, 0)} ms |`,
        ),
      );
    }
  return lines;
}
