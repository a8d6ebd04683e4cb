// A coordinator stopped mid-job (issue 14: a job spread over two coordinators
// hung when one took the other's stalled loop for its death). SCALE_STALL=
// <which>:<ms>[,<which>:<ms>...] with <which> `first` (the driver's
// coordinator), `other` (the second) or `nodes` (the first process of simulated
// nodes: its nodes fall silent together, coordinator/nodes/hold.ts): once a fifth
// of the job is done, that process is stopped (SIGSTOP) for <ms>, then continued;
// the stops follow each other, 1 s apart. The job must end, with every result.
import { log, nowMs, sleep } from './harness.js';
import type { Cluster } from './scale-cluster.js';

export interface Stall {
  which: 'first' | 'other' | 'nodes';
  ms: number;
}

/** SCALE_STALL, parsed; none when unset. */
export function stallsFromEnv(): Stall[] {
  const v = process.env.SCALE_STALL;
  if (!v) return [];
  return v.split(',').map((x) => {
    const [which, ms] = x.split(':');
    if ((which !== 'first' && which !== 'other' && which !== 'nodes') || !(Number(ms) > 0)) throw new Error(`SCALE_STALL: <first|other|nodes>:<ms>, got ${x}`);
    return { which, ms: Number(ms) };
  });
}

/** Stops and continues coordinators as `stalls` says once `count / 5` tasks of the job are done (finished since `finished0`). */
export async function stallMidJob(cl: Cluster, stalls: Stall[], finished0: number, count: number): Promise<void> {
  if (stalls.length === 0) return;
  if (cl.coords.length < 2 && stalls.some((s) => s.which === 'other')) throw new Error('SCALE_STALL=other needs SCALE_COORDINATORS >= 2');
  while (((await cl.stats()).tasksFinished ?? 0) - finished0 < count / 5) await sleep(100);
  for (const s of stalls) {
    const p = (s.which === 'first' ? cl.coords[0] : s.which === 'nodes' ? cl.nodes[0] : cl.coords[1]).p;
    const t0 = nowMs();
    p.kill('SIGSTOP');
    await sleep(s.ms);
    p.kill('SIGCONT');
    log(`stall: the ${s.which} ${s.which === 'nodes' ? 'process' : 'coordinator'} stopped for ${Math.round(nowMs() - t0)} ms`);
    await sleep(1000);
  }
  // What the driver's coordinator made of it: nodes held and back, or lost (membership counts).
  let st = await cl.stats();
  for (let t = 0; t < 50 && st.nodesHeld > st.nodesReleased + st.nodesLostAfterHold; t++) {
    await sleep(200);
    st = await cl.stats();
  }
  const { nodesHeld, nodesReleased, nodesLostSilent, nodesLostAfterHold } = st;
  log(`stall: nodes held ${nodesHeld}, back ${nodesReleased}, lost silent ${nodesLostSilent} (after a hold ${nodesLostAfterHold})`);
}
