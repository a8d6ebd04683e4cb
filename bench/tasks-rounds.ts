// bench:tasks' contenders, round by round (bench/tasks.ts runs the phases):
// THROUGHPUT_TASKS empty tasks at once on the mesh against the same calls
// through a piscina pool, interleaved in alternating order; the durable GCS
// against the in-memory one; the figures made of their rounds.
import { loadavg } from 'node:os';
import type { Piscina } from 'piscina';
import type { Mesh, ObjectRef } from '../edge/index.js';
import { MB, interleaved, log, median, pairedFigure, round, type BenchCluster, type Figure } from './harness.js';
import { cpuSince } from './cpu.js';
import { cpuTotal, drained, emptyBatch, meshPids, type Noop } from './empty-tasks.js';

export const THROUGHPUT_TASKS = 20_000;

/** One timed piscina round of THROUGHPUT_TASKS: its CPU (this process, the pool's threads in it) pushed to `cpu`. */
async function piscinaRound(pool: Piscina, cpu: number[]): Promise<void> {
  const spent = cpuSince({});
  await piscinaBatch(pool, THROUGHPUT_TASKS);
  cpu.push(spent().driver);
}

export function piscinaBatch(pool: Piscina, n: number): Promise<unknown[]> {
  const ps: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) ps.push(pool.run(null));
  return Promise.all(ps);
}

/**
 * THROUGHPUT_TASKS tasks at once against the same calls through the piscina
 * pool, `rounds` interleaved rounds in alternating order (issue 14, session
 * 13). The verdicts are medians of per-round ratios, not bests: on a shared
 * 2-core machine a load that changes between rounds moves both contenders of a
 * round alike. CPU: every process of the mesh (driver, coordinator, node with
 * its executors) from the first submit until the coordinator has freed the
 * round's tasks, against this process with piscina's workers for the same calls.
 */
export async function throughputRounds(
  c: BenchCluster,
  m: Mesh,
  noop: Noop,
  pool: Piscina,
  label: string,
  rounds: number,
): Promise<{ tm: number[]; pi: number[]; cpu: Record<string, number>[]; piCpu: number[] }> {
  let refs: ObjectRef<void>[] = [];
  const cpu: Record<string, number>[] = [];
  const piCpu: number[] = [];
  let spent: () => Record<string, number> = () => ({});
  const times = await interleaved(
    rounds,
    {
      tabmesh: async () => {
        spent = cpuSince(meshPids(c));
        refs = await emptyBatch(m, noop, THROUGHPUT_TASKS);
      },
      piscina: () => piscinaRound(pool, piCpu),
    },
    {
      alternate: true,
      // Untimed: free the round's refs and let the coordinator finish freeing,
      // so that work does not land in the next timed round (its CPU counts in this one).
      after: async (name, r, ms) => {
        let extra = '';
        if (name === 'tabmesh') {
          m.free(refs);
          refs = [];
          const d = await drained(c);
          cpu.push(spent());
          extra = `; freed, coordinator drained in ${round(d.waitedMs, 0)} ms (tasks ${d.stats.tasks} objects ${d.stats.objects}, rss ${round(d.stats.rssBytes / MB, 1)} MB, heap compactions so far: ${d.stats.heapCompactions} done, ${d.stats.heapCompactionsStopped} stopped); CPU ms ${fmtCpu(cpu[r])}`;
        } else extra = `; CPU ms ${round(piCpu[r], 0)}`;
        log(
          `${label}round ${r + 1} ${name}: ${round(ms)} ms = ${Math.round((THROUGHPUT_TASKS / ms) * 1000)} tasks/s${extra} (load ${loadavg()[0].toFixed(1)})`,
        );
      },
    },
  );
  const perS = (ms: number) => (THROUGHPUT_TASKS / ms) * 1000;
  const tm = times.tabmesh.map(perS);
  const pi = times.piscina.map(perS);
  const ratios = tm.map((x, i) => x / pi[i]);
  const cpuRatios = cpu.map((x, i) => cpuTotal(x) / piCpu[i]);
  log(
    `${label}tasks/s by round: tabmesh ${tm.map((x) => Math.round(x))}, piscina ${pi.map((x) => Math.round(x))}; ` +
      `ratios ${ratios.map((x) => round(x, 2))} (median ${round(median(ratios), 2)}, best-of ratio ${round(Math.max(...tm) / Math.max(...pi), 2)}); ` +
      `CPU ratios ${cpuRatios.map((x) => round(x, 2))} (median ${round(median(cpuRatios), 2)})`,
  );
  return { tm, pi, cpu, piCpu };
}

export type Contender = { c: BenchCluster; m: Mesh; noop: Noop };

/**
 * THROUGHPUT_TASKS tasks at once on the durable GCS against the in-memory GCS
 * (two clusters up at once, the idle one costs little) and the piscina pool,
 * `rounds` interleaved rounds in alternating order: the durable figure's
 * baseline is the in-memory one of the same round (issue 14: >= 0.9x).
 */
export async function durableRounds(
  mem: Contender,
  dur: Contender,
  pool: Piscina,
  rounds: number,
): Promise<{ durable: Awaited<ReturnType<typeof throughputRounds>>; memory: number[]; memoryCpu: Record<string, number>[] }> {
  let refs: ObjectRef<void>[] = [];
  const cpu = { memory: [] as Record<string, number>[], durable: [] as Record<string, number>[] };
  const piCpu: number[] = [];
  let spent: () => Record<string, number> = () => ({});
  const run = (x: Contender) => async () => {
    spent = cpuSince(meshPids(x.c));
    refs = await emptyBatch(x.m, x.noop, THROUGHPUT_TASKS);
  };
  const times = await interleaved(
    rounds,
    {
      memory: run(mem),
      durable: run(dur),
      piscina: () => piscinaRound(pool, piCpu),
    },
    {
      alternate: true,
      after: async (name, r, ms) => {
        let extra = `; CPU ms ${round(piCpu[r] ?? 0, 0)}`;
        if (name !== 'piscina') {
          const x = name === 'memory' ? mem : dur;
          x.m.free(refs);
          refs = [];
          const d = await drained(x.c);
          cpu[name].push(spent());
          extra = `; freed, drained in ${round(d.waitedMs, 0)} ms; CPU ms ${fmtCpu(cpu[name][r])}`;
        }
        log(
          `durable phase round ${r + 1} ${name}: ${round(ms)} ms = ${Math.round((THROUGHPUT_TASKS / ms) * 1000)} tasks/s${extra} (load ${loadavg()[0].toFixed(1)})`,
        );
      },
    },
  );
  const perS = (ms: number) => (THROUGHPUT_TASKS / ms) * 1000;
  const tm = times.durable.map(perS);
  const mm = times.memory.map(perS);
  const pi = times.piscina.map(perS);
  const ratios = tm.map((x, i) => x / mm[i]);
  log(
    `durable phase tasks/s by round: durable ${tm.map((x) => Math.round(x))}, memory ${mm.map((x) => Math.round(x))}, piscina ${pi.map((x) => Math.round(x))}; ` +
      `durable/memory ${ratios.map((x) => round(x, 2))} (median ${round(median(ratios), 2)}); durable/piscina median ${round(median(tm.map((x, i) => x / pi[i])), 2)}`,
  );
  return { durable: { tm, pi, cpu: cpu.durable, piCpu }, memory: mm, memoryCpu: cpu.memory };
}

export const per1000 = (ms: number) => (ms / THROUGHPUT_TASKS) * 1000;

function fmtCpu(r: Record<string, number>): string {
  return `${Object.entries(r)
    .map(([k, v]) => `${k} ${round(v, 0)}`)
    .join(', ')}, total ${round(cpuTotal(r), 0)}`;
}

/** The throughput and CPU figures of `throughputRounds`, named `prefix` and `cpuPrefix`.total (and by process with `byProcess`). */
export function throughputFigures(prefix: string, cpuPrefix: string, r: Awaited<ReturnType<typeof throughputRounds>>, byProcess: boolean): Figure[] {
  const piPer1000 = r.piCpu.map(per1000);
  const cpuFigure = (name: string, of: (x: Record<string, number>) => number) =>
    pairedFigure(
      `${cpuPrefix}.${name}`,
      r.cpu.map((x) => per1000(of(x))),
      piPer1000,
      'ms',
    );
  const out = [pairedFigure(prefix, r.tm, r.pi, 'tasks/s'), cpuFigure('total', cpuTotal)];
  if (byProcess) for (const k of Object.keys(r.cpu[0] ?? {})) out.push(cpuFigure(k, (x) => x[k]));
  return out;
}
