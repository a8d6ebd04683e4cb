// What a mesh could run if each of its processes had a core of its own
// (issue 15, bench:redis): on a shared 2-core machine, wall time cannot show
// two coordinators scaling (one coordinator with its node already uses ~1.5
// cores), but the CPU each process spends per task can. A pipelined mesh
// runs no faster than its busiest process: 1,000 / (its CPU ms per 1,000
// tasks) tasks/s. The figure falls when any process's cost per task rises.
import { round } from './figures.js';

/** CPU ms of each process in one round (from cpu.ts: `driver` is this process, which runs every driver of the round). */
export type RoundCpu = Record<string, number>;

export interface Capacity {
  /** The process that bounds it. */
  busiest: string;
  /** Its CPU ms per 1,000 tasks. */
  msPer1000: number;
  /** 1,000,000 / msPer1000: tasks/s with a core per process. */
  tasksPerS: number;
}

/**
 * CPU ms per 1,000 tasks of each process. `drivers` drivers ran in this
 * process on equal shares of the tasks: each is a process of its own in a
 * real mesh, so each is charged its share of this process's time.
 */
export function perThousand(cpu: RoundCpu, tasks: number, drivers = 1): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, ms] of Object.entries(cpu)) {
    if (Number.isNaN(ms)) continue;
    out[k] = ((k === 'driver' ? ms / drivers : ms) / tasks) * 1000;
  }
  return out;
}

/** The capacity a round's CPU times imply, bound by its busiest process. */
export function capacity(cpu: RoundCpu, tasks: number, drivers = 1): Capacity {
  let busiest = '';
  let msPer1000 = 0;
  for (const [k, v] of Object.entries(perThousand(cpu, tasks, drivers))) {
    if (v > msPer1000) [busiest, msPer1000] = [k, v];
  }
  return { busiest, msPer1000, tasksPerS: msPer1000 > 0 ? 1e6 / msPer1000 : NaN };
}

/** The best round: the one whose busiest process spent least per task (the least disturbed by the machine's other load). */
export function bestCapacity(rounds: RoundCpu[], tasks: number, drivers = 1): Capacity {
  const all = rounds.map((r) => capacity(r, tasks, drivers)).filter((c) => Number.isFinite(c.tasksPerS));
  if (all.length === 0) return { busiest: '', msPer1000: NaN, tasksPerS: NaN };
  return all.reduce((a, b) => (b.tasksPerS > a.tasksPerS ? b : a));
}

/** One line for a round: each process's CPU ms per 1,000 tasks, their sum, and the capacity they imply. */
export function cpuLine(cpu: RoundCpu, tasks: number, drivers = 1): string {
  const per = perThousand(cpu, tasks, drivers);
  const all = Object.values(cpu).reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);
  const cap = capacity(cpu, tasks, drivers);
  const name = (k: string) => (k === 'driver' && drivers > 1 ? `driver (each of ${drivers})` : k);
  return (
    `CPU ms per 1,000 tasks: ${Object.entries(per)
      .map(([k, v]) => `${name(k)} ${round(v, 0)}`)
      .join(', ')}; all ${round((all / tasks) * 1000, 0)}; ` + `capacity with a core per process ${Math.round(cap.tasksPerS)} tasks/s (bound: ${cap.busiest})`
  );
}
