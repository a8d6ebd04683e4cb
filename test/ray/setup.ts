// Ray's core tests ported (issue 13): the clusters they run on, and Ray's test
// helpers (SignalActor) written for tabmesh. Every ported file runs on edge
// nodes; a third of its cases also on volunteer tabs in real Chromium.
import { it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { TERMINAL } from '../../coordinator/gcs/tables.js';
import { withBrowser } from '../helpers/browser.js';
import { openVolunteers } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { ObjectLostError, TaskCancelledError, TaskError, WorkerCrashedError, type ObjectRef } from '../../shared/index.js';
import { findTask } from '../helpers/task-state.js';

export interface RayCluster {
  cl: Cluster;
  m: Mesh;
  stop(): Promise<void>;
}

export type Where = 'edge nodes' | 'volunteer tabs';

/** Ray's `ray.init(num_cpus=cpus)` on `nodes` nodes: edge processes, or volunteer tabs in Chromium. */
export async function rayCluster(where: Where, cpus: number, nodes = 1): Promise<RayCluster> {
  if (where === 'edge nodes') {
    const cl = await Cluster.start({ nodes, cpus });
    return { cl, m: await cl.driver(), stop: () => cl.stop() };
  }
  // Chromium starts while the coordinator does; the tabs open at once, the driver connects meanwhile.
  const [cl, b] = await withBrowser(Cluster.start({ nodes: 0 }));
  const [m] = await Promise.all([
    cl.driver(),
    openVolunteers(
      cl,
      b,
      range(nodes).map(() => ({ cpus })),
    ),
  ]).catch(async (e: unknown) => {
    await cl.stop();
    await b.close();
    throw e;
  });
  return {
    cl,
    m,
    stop: async () => {
      await cl.stop();
      await b.close();
    },
  };
}

/** Ray's test_utils.SignalActor: `wait()` calls return once `send()` was called. */
export class SignalActor {
  ready = false;
  waiters: Array<() => void> = [];
  send(clear = false): void {
    this.ready = true;
    for (const w of this.waiters) w();
    this.waiters = [];
    if (clear) this.ready = false;
  }
  async wait(): Promise<boolean> {
    if (!this.ready) await new Promise<void>((r) => this.waiters.push(r));
    return true;
  }
}

/** SignalActor's options in Ray: no CPU, and many waits at once. */
export const SIGNAL = { numCpus: 0, maxConcurrency: 1000 } as const;

/** Ray's test_cancel.valid_exceptions. */
export function validExceptions(force: boolean): Array<new (...a: never[]) => Error> {
  return force ? [TaskError, TaskCancelledError, WorkerCrashedError, ObjectLostError] : [TaskError, TaskCancelledError];
}

/** Ray's `pytest.raises(valid)`: the promise rejects with one of the classes. */
export async function raises(p: Promise<unknown>, valid: Array<new (...a: never[]) => Error>): Promise<Error> {
  const r = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (r.ok) throw new Error(`expected one of ${valid.map((c) => c.name).join(', ')}, got the value ${JSON.stringify(r.v)}`);
  if (!valid.some((c) => r.e instanceof c)) throw new Error(`expected one of ${valid.map((c) => c.name).join(', ')}, got ${String(r.e)}`);
  return r.e as Error;
}

/** A seeded generator (mulberry32): Ray's tests draw at random; ours replay the same draw. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Python's `range(n)`. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** A ported case: it runs on edge nodes, and on tabs when its name is among `browserCases` (a representative third). */
export function casesOn(where: Where, browserCases: ReadonlySet<string>, defaultMs?: number) {
  return (name: string, fn: () => Promise<void>, ms = defaultMs): void => {
    (where === 'edge nodes' || browserCases.has(name) ? it : it.skip)(name, fn, ms);
  };
}

/**
 * `rc.m.get(ref)`, and if it is not there in `ms`, what the coordinator knows of its task (state, node, attempt), its
 * recent events and the record waits' counts, printed before the get fails: a hang in CI says where it stood.
 */
export async function getOrTell<T>(rc: RayCluster, ref: ObjectRef<T>, ms = 40_000): Promise<T> {
  const c = rc.cl.c.coordinator;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const id = ref.id.slice(0, 32);
      const t = c.gcs.tasks.get(id as never);
      const member = t ? undefined : findTask(c, id as never);
      const row = t
        ? { name: t.spec.name, state: t.state, node: t.node?.id, attempt: t.spec.attempt, actor: t.spec.actor?.kind }
        : member && !member.record && { group: member.grp.g, member: member.i, state: member.state, attempt: member.grp.attempt[member.i] };
      const ev = c.gcs.events.filter((e) => !/^task-(started|finished)$/.test(e.kind)).slice(-40);
      console.log(
        `get of ${ref.id.slice(0, 12)} not back in ${ms} ms: task ${JSON.stringify(row)}; object ${JSON.stringify(c.gcs.objects.get(ref.id as never)?.state)}`,
      );
      const open = [...c.gcs.tasks.values()].filter((x) => x.spec.jobId === t?.spec.jobId && !TERMINAL.has(x.state));
      console.log(
        'unended tasks of its job',
        JSON.stringify(open.slice(0, 30).map((x) => [x.spec.name, x.spec.taskId.slice(0, 8), x.state, x.spec.attempt, x.node?.id.slice(0, 8)])),
      );
      console.log('stats', JSON.stringify(c.gcs.stats));
      console.log('events', JSON.stringify(ev.map((e) => [e.kind, e.message])));
      reject(new Error(`get of ${ref.id.slice(0, 12)} not back in ${ms} ms (the coordinator's view is printed above)`));
    }, ms);
  });
  try {
    return await Promise.race([rc.m.get(ref), late]);
  } finally {
    clearTimeout(timer);
  }
}
