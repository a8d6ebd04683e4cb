// Ported from ray-project/ray python/ray/tests/test_cancel.py (issue 13).
// Ray's assertions kept; timeouts are in ms; test_fast submits 1,000 waiting
// tasks where Ray submits 5,000 and test_stress 30 where Ray has 100 (the
// machine is shared; the races are the same).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh } from '../../shared/api/mesh.js';
import { GetTimeoutError, type ObjectRef } from '../../shared/index.js';
import { getOrTell, raises, rayCluster, seeded, SIGNAL, SignalActor, validExceptions, type RayCluster, type Where } from './setup.js';

declare const mesh: Mesh; // inside tasks

function waitForFn(m: Mesh) {
  return m.remote(async (t: ObjectRef<unknown>[]) => mesh.get(t[0]));
}

const CASES = {
  async test_cancel_chain(m: Mesh, force: boolean) {
    const valid = validExceptions(force);
    const wait_for = waitForFn(m);
    const signaler = m.remote(SignalActor).options(SIGNAL).remote();
    let obj1 = wait_for.remote([signaler.wait.remote()]);
    let obj2 = wait_for.remote([obj1]);
    let obj3 = wait_for.remote([obj2]);
    let obj4 = wait_for.remote([obj3]);
    expect((await m.wait([obj1], { timeoutMs: 100 })).ready.length).toBe(0);
    m.cancel(obj1, { force });
    for (const ob of [obj1, obj2, obj3, obj4]) await raises(m.get(ob), valid);

    const signaler2 = m.remote(SignalActor).options(SIGNAL).remote();
    obj1 = wait_for.remote([signaler2.wait.remote()]);
    obj2 = wait_for.remote([obj1]);
    obj3 = wait_for.remote([obj2]);
    obj4 = wait_for.remote([obj3]);
    expect((await m.wait([obj3], { timeoutMs: 100 })).ready.length).toBe(0);
    m.cancel(obj3, { force });
    for (const ob of [obj3, obj4]) await raises(m.get(ob), valid);
    await raises(m.get(obj1, { timeoutMs: 100 }), [GetTimeoutError]);
    await raises(m.get(obj2, { timeoutMs: 100 }), [GetTimeoutError]);
    signaler2.send.remote();
    expect(await m.get(obj1)).toBe(true);
  },

  async test_cancel_multiple_dependents(m: Mesh, force: boolean) {
    const valid = validExceptions(force);
    const wait_for = waitForFn(m);
    const signaler = m.remote(SignalActor).options(SIGNAL).remote();
    const head = wait_for.remote([signaler.wait.remote()]);
    const deps = Array.from({ length: 3 }, () => wait_for.remote([head]));
    expect((await m.wait([head], { timeoutMs: 100 })).ready.length).toBe(0);
    m.cancel(head, { force });
    for (const d of deps) await raises(m.get(d), valid);

    const head2 = wait_for.remote([signaler.wait.remote()]);
    const deps2 = Array.from({ length: 3 }, () => wait_for.remote([head]));
    for (const d of deps2) m.cancel(d, { force });
    for (const d of deps2) await raises(m.get(d), valid);
    signaler.send.remote();
    expect(await m.get(head2)).toBe(true);
  },

  async test_single_cpu_cancel(m: Mesh, force: boolean) {
    const valid = validExceptions(force);
    const wait_for = waitForFn(m);
    const signaler = m.remote(SignalActor).options(SIGNAL).remote();
    const obj1 = wait_for.remote([signaler.wait.remote()]);
    const obj2 = wait_for.remote([obj1]);
    const obj3 = wait_for.remote([obj2]);
    const indep = wait_for.remote([signaler.wait.remote()]);
    expect((await m.wait([obj3], { timeoutMs: 100 })).ready.length).toBe(0);
    m.cancel(obj3, { force });
    await raises(m.get(obj3), valid);
    m.cancel(obj1, { force });
    for (const d of [obj1, obj2]) await raises(m.get(d), valid);
    signaler.send.remote();
    expect(await m.get(indep)).toBe(true);
  },

  async test_comprehensive(m: Mesh, force: boolean) {
    const valid = validExceptions(force);
    const signaler = m.remote(SignalActor).options(SIGNAL).remote();
    const wait_for = m.remote(async (t: ObjectRef<unknown>[]) => {
      await mesh.get(t[0]);
      return 'Result';
    });
    const combine = m.remote((a: unknown, b: unknown) => String(a) + String(b));
    const a = wait_for.remote([signaler.wait.remote()]);
    const b = wait_for.remote([signaler.wait.remote()]);
    const combo = combine.remote(a, b);
    const a2 = wait_for.remote([a]);
    expect((await m.wait([a, b, a2, combo], { timeoutMs: 1000 })).ready.length).toBe(0);
    m.cancel(a, { force });
    await raises(m.get(a, { timeoutMs: 10_000 }), valid);
    await raises(m.get(a2, { timeoutMs: 10_000 }), valid);
    signaler.send.remote();
    await raises(m.get(combo), valid);
  },

  async test_fast(m: Mesh, force: boolean) {
    const valid = validExceptions(force);
    const random = seeded(force ? 7 : 8);
    const fast = m.remote((y: string) => y);
    const signaler = m.remote(SignalActor).options(SIGNAL).remote();
    const ids: ObjectRef<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      const x = fast.remote('a');
      m.cancel(x, { force });
      ids.push(x);
    }
    const wait_for = m.remote((y: unknown) => y);
    const sig = signaler.wait.remote();
    for (let i = 0; i < 1000; i++) ids.push(wait_for.remote(sig));
    for (let idx = 100; idx < ids.length; idx++) if (random() > 0.95) m.cancel(ids[idx], { force });
    signaler.send.remote();
    for (const ref of ids) {
      try {
        await m.get(ref);
      } catch (e) {
        expect(valid.some((c) => e instanceof c)).toBe(true);
      }
    }
  },

  async test_remote_cancel(m: Mesh, force: boolean) {
    const valid = validExceptions(force);
    const signaler = m.remote(SignalActor).options(SIGNAL).remote();
    const wait_for = waitForFn(m);
    const remote_wait = m.remote((sg: ObjectRef<unknown>[]) => {
      const w = mesh.remote(async (y: ObjectRef<unknown>[]) => mesh.get(y[0]));
      return [w.remote([sg[0]])];
    });
    void wait_for;
    const sig = signaler.wait.remote();
    const outer = remote_wait.remote([sig]);
    const inner = (await m.get(outer))[0];
    await raises(m.get(inner, { timeoutMs: 1000 }), [GetTimeoutError]);
    m.cancel(inner, { force });
    await raises(m.get(inner, { timeoutMs: 10_000 }), valid);
  },
};

/** Ray's 100: a sleeping one costs a fresh executor each (force), which is the point, and the machine is shared. */
const STRESS_TASKS = 30;

/** test_stress runs with force only in Ray ("Running this test with use_force==False is flaky"). */
async function test_stress(rc: RayCluster, force: boolean) {
  const m = rc.m;
  const valid = validExceptions(force);
  const random = seeded(13);
  const infinite_sleep = m.remote(async (y: number | boolean) => {
    if (y) for (;;) await new Promise((r) => setTimeout(r, 100));
  });
  const first = infinite_sleep.remote(true);
  const sleep_or_no = Array.from({ length: STRESS_TASKS }, () => (random() < 0.5 ? 0 : 1));
  const tasks = sleep_or_no.map((i) => infinite_sleep.remote(i));
  const cancelled = new Set<ObjectRef<unknown>>();
  for (const t of tasks) {
    if (random() > 0.5) {
      m.cancel(t, { force });
      cancelled.add(t);
    }
  }
  m.cancel(first, { force });
  cancelled.add(first);
  for (const done of cancelled) await raises(getOrTell(rc, done, 60_000), valid);
  // Every endless one is cancelled before any get, as in Ray: one node runs them in no set order, so a get of a
  // short task may wait behind an endless one later in the list (cancelling each just before its get hung so).
  for (let indx = 0; indx < tasks.length; indx++) {
    if (sleep_or_no[indx]) {
      m.cancel(tasks[indx], { force });
      cancelled.add(tasks[indx]);
    }
  }
  for (const t of tasks) {
    if (cancelled.has(t)) await raises(getOrTell(rc, t, 60_000), valid);
    else await getOrTell(rc, t, 60_000);
  }
}

const BROWSER_CASES = new Set(['test_cancel_chain', 'test_remote_cancel']);

describe.each<Where>(['edge nodes', 'volunteer tabs'])('test_cancel.py on %s', (where) => {
  let rc: RayCluster;
  // Ray's ray_start_regular and ray.init(num_cpus=1) alike: one node, one CPU.
  beforeAll(async () => {
    rc = await rayCluster(where, 1);
  }, 120_000);
  afterAll(() => rc.stop());

  for (const [name, run] of Object.entries(CASES)) {
    if (where === 'volunteer tabs' && !BROWSER_CASES.has(name)) continue;
    for (const force of [true, false]) it(`${name}[use_force=${force}]`, () => run(rc.m, force));
  }
  // Hung now and then before executor restarts pumped the node's queue (test/sim/cancel.sim.test.ts replays it seeded).
  // 2.7 s alone, about 60 s after this file's other cases on the shared machine (each force-cancel restarts
  // the executor, and tasks left blocked on it by earlier cases run again): hence the wide budget.
  if (where === 'edge nodes') it('test_stress[use_force=True]', () => test_stress(rc, true), 240_000);
});
