// A coordinator stopped mid-job (issue 14: a job spread over two coordinators
// hung when one took the other's stalled loop for its death). SCALE_STALL=
// <which>:<ms>[,<which>:<ms>...] with <which> `first` (the driver's
// coordinator) or `other` (the second): once a fifth of the job is done, that
// coordinator process is stopped (SIGSTOP) for <ms>, then continued; the stops
// follow each other, 1 s apart. The job must end, with every result.
import { log, nowMs, sleep } from './harness.js';
import type { Cluster } from './scale-cluster.js';

export interface Stall {
  which: 'first' | 'other';
  ms: number;
}

/** SCALE_STALL, parsed; none when unset. */
export function stallsFromEnv(): Stall[] {
  const v = process.env.SCALE_STALL;
  if (!v) return [];
  return v.split(',').map((x) => {
    const [which, ms] = x.split(':');
    if ((which !== 'first' && which !== 'other') || !(Number(ms) > 0)) throw new Error(`SCALE_STALL: <first|other>:<ms>, got ${x}`);
    return { which, ms: Number(ms) };
  });
}

/** Stops and continues coordinators as `stalls` says once `count / 5` tasks of the job are done (finished since `finished0`). */
export async function stallMidJob(cl: Cluster, stalls: Stall[], finished0: number, count: number): Promise<void> {
  if (stalls.length === 0) return;
  if (cl.coords.length < 2 && stalls.some((s) => s.which === 'other')) throw new Error('SCALE_STALL=other needs SCALE_COORDINATORS >= 2');
  while (((await cl.stats()).tasksFinished ?? 0) - finished0 < count / 5) await sleep(100);
  for (const s of stalls) {
    const p = (s.which === 'first' ? cl.coords[0] : cl.coords[1]).p;
    const t0 = nowMs();
    p.kill('SIGSTOP');
    await sleep(s.ms);
    p.kill('SIGCONT');
    log(`stall: the ${s.which} coordinator stopped for ${Math.round(nowMs() - t0)} ms`);
    await sleep(1000);
  }
}
