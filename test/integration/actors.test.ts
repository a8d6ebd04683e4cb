// Actors on edge nodes: stateful remote classes (issue 5).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { openVolunteer } from '../browser/volunteers.js';
import type { Mesh } from '../../shared/api/mesh.js';
import { ActorDiedError, TaskError, type ActorHandle, type ObjectRef } from '../../shared/index.js';
import { PS_DIM, paramServerLocal, runParamServer } from '../../shared/examples/paramserver.js';

declare const mesh: Mesh; // inside tasks

class Counter {
  n = 0;
  seen: Record<string, number[]> = {};
  inc(caller: string, seq: number): number {
    (this.seen[caller] ??= []).push(seq);
    return ++this.n;
  }
  get(): number {
    return this.n;
  }
  order(): Record<string, number[]> {
    return this.seen;
  }
}

/** The same scenarios on edge-node processes and on volunteer tabs in real Chromium. */
interface Mesh_ {
  cl: Cluster;
  stop(): Promise<void>;
}
const SETUPS: Array<[string, (nodes: number, cpus: number) => Promise<Mesh_>]> = [
  [
    'edge nodes',
    async (nodes, cpus) => {
      const cl = await Cluster.start({ nodes, cpus });
      return { cl, stop: () => cl.stop() };
    },
  ],
  [
    'volunteer tabs',
    async (nodes, cpus) => {
      const cl = await Cluster.start({ nodes: 0 });
      const b: TestBrowser = await launchBrowser();
      for (let i = 0; i < nodes; i++) await openVolunteer(cl, b, { cpus });
      return {
        cl,
        stop: async () => {
          await cl.stop();
          await b.close();
        },
      };
    },
  ],
];

describe.each(SETUPS)('actors on %s', (_, setup) => {
  let cl: Cluster;
  let m: Mesh;
  let env: Mesh_;
  beforeAll(async () => {
    env = await setup(2, 2);
    cl = env.cl;
    m = await cl.driver();
  }, 120_000);
  afterAll(() => env.stop());

  it("a counter called 1,000 times from 3 callers (the driver and two tasks) keeps each caller's order and counts 1,000", async () => {
    const counter = m.remote(Counter).remote();
    const caller = m.remote(async (h: ActorHandle<Counter>, name: string, n: number) => {
      const refs: ObjectRef<number>[] = [];
      for (let i = 0; i < n; i++) refs.push(h.inc.remote(name, i));
      await mesh.get(refs);
      return n;
    });
    const fromDriver: ObjectRef<number>[] = [];
    const t1 = caller.remote(counter, 'task1', 333);
    for (let i = 0; i < 334; i++) fromDriver.push(counter.inc.remote('driver', i));
    const t2 = caller.remote(counter, 'task2', 333);
    await m.get([t1, t2]);
    await m.get(fromDriver);
    expect(await m.get(counter.get.remote())).toBe(1000);
    const order = await m.get(counter.order.remote());
    expect(order.driver).toEqual(Array.from({ length: 334 }, (_, i) => i));
    expect(order.task1).toEqual(Array.from({ length: 333 }, (_, i) => i));
    expect(order.task2).toEqual(Array.from({ length: 333 }, (_, i) => i));
    const a = cl.c.coordinator.actors.get(counter.actorId as never)!;
    expect(a.log.length).toBe(1000 + 2); // the method log holds every call in dispatch order
  });

  it('a parameter server: 8 workers pull weights, push gradients for 20 rounds; the result equals a single-process run', async () => {
    // 128 KiB of weights, an eighth of bench:objects' PS_DIM: each pull and gradient is still over the inline threshold
    // (64 KiB: they move as objects, between the actor's node, the workers' and the driver), and the driver moves
    // 40 MiB in all instead of 320 (the tab case's 320 MiB had kept this file out of the paired workers, session 33).
    const dim = PS_DIM / 8;
    const { final } = await runParamServer(m, 20, dim);
    const w = paramServerLocal(20, dim);
    expect(final.length).toBe(dim);
    expect(Array.from(final)).toEqual(Array.from(w));
  }, 180_000);

  it('a handle passed into a task and stored in an object is called from there', async () => {
    const counter = m.remote(Counter).remote();
    const store = m.remote((h: ActorHandle<Counter>) => ({ box: { handle: h } }));
    const boxed = store.remote(counter);
    const use = m.remote(async (b: { box: { handle: ActorHandle<Counter> } }) => mesh.get(b.box.handle.inc.remote('stored', 0)));
    expect(await m.get(use.remote(boxed))).toBe(1);
    const back = await m.get(boxed);
    expect(await m.get(back.box.handle.get.remote())).toBe(1);
  });

  it('a named actor is found from another driver connection; a second actor with the same name is an error', async () => {
    const named = m.remote(Counter).options({ name: 'shared-counter' }).remote();
    await m.get(named.inc.remote('a', 0));
    const other = await cl.driver();
    const found = await other.getActor<Counter>('shared-counter');
    expect(await other.get(found.inc.remote('b', 0))).toBe(2);
    const dup = m.remote(Counter).options({ name: 'shared-counter' }).remote();
    const e = (await m.get(dup.get.remote()).catch((x: unknown) => x)) as TaskError;
    expect(e).toBeInstanceOf(TaskError);
    expect(e.remoteName).toBe('ActorNameTakenError');
    expect(e.remoteMessage).toContain('shared-counter');
    await expect(other.getActor('no-such-actor')).rejects.toMatchObject({ code: 'ACTOR_DIED' });
    await other.close();
  });

  it('a method that throws fails that call only; a constructor that throws fails every call with its error', async () => {
    class Fragile {
      n = 0;
      bump(): number {
        return ++this.n;
      }
      explode(): never {
        throw new RangeError('method broke');
      }
    }
    const f = m.remote(Fragile).remote();
    const bad = (await m.get(f.explode.remote()).catch((x: unknown) => x)) as TaskError;
    expect(bad.remoteName).toBe('RangeError');
    expect(bad.functionName).toBe('Fragile.explode');
    expect(await m.get(f.bump.remote())).toBe(1);

    class Broken {
      constructor() {
        throw new Error('constructor broke');
      }
      hello(): string {
        return 'hi';
      }
    }
    const b = m.remote(Broken).remote();
    for (const r of [b.hello.remote(), b.hello.remote()]) {
      const e = (await m.get(r).catch((x: unknown) => x)) as TaskError;
      expect(e).toBeInstanceOf(TaskError);
      expect(e.remoteMessage).toBe('constructor broke');
    }
  });

  it('async methods interleave up to maxConcurrency; an actor whose handles are all released stops', async () => {
    class Sleeper {
      active = 0;
      peak = 0;
      async nap(ms: number): Promise<number> {
        this.active++;
        this.peak = Math.max(this.peak, this.active);
        await new Promise((r) => setTimeout(r, ms));
        this.active--;
        return this.peak;
      }
    }
    // numCpus 0: these actors take no slot, so they start whatever earlier tests left alive.
    const s = m.remote(Sleeper).options({ maxConcurrency: 3, numCpus: 0 }).remote();
    const peaks = await m.get(Array.from({ length: 6 }, () => s.nap.remote(100)));
    expect(Math.max(...peaks)).toBe(3);
    const one = m.remote(Sleeper).options({ numCpus: 0 }).remote();
    const p1 = await m.get(Array.from({ length: 3 }, () => one.nap.remote(30)));
    expect(Math.max(...p1)).toBe(1);
    const c = cl.c.coordinator;
    m.free((s as unknown as { ref: ObjectRef }).ref);
    const gone = () => c.actors.get(s.actorId as never)?.state;
    await cl.until(
      () => gone() === undefined || gone() === 'dead',
      10_000,
      () => 'the released actor to stop',
    );
    expect(c.statsJson().actorsDead).toBeGreaterThan(0);
  });
});

describe.each(SETUPS)('killing an actor frees its slot, on %s', (_, setup) => {
  let cl: Cluster;
  let m: Mesh;
  let env: Mesh_;
  beforeAll(async () => {
    env = await setup(1, 2);
    cl = env.cl;
    m = await cl.driver();
  }, 120_000);
  afterAll(() => env.stop());

  it('kill: later calls reject with ActorDiedError and the slot runs a new task', async () => {
    const c = cl.c.coordinator;
    // Two actors that hold a CPU each (numCpus explicit; a default actor holds none while alive, as in Ray) take both CPUs of the node.
    const actors = Array.from({ length: 2 }, () => m.remote(Counter).options({ numCpus: 1 }).remote());
    await m.get(actors.map((a) => a.get.remote()));
    const probe = m.remote(() => 'ran');
    const waiting = probe.remote();
    await new Promise((r) => setTimeout(r, 300));
    expect(await m.wait([waiting], { timeoutMs: 10 })).toMatchObject({ ready: [] }); // no free slot
    m.kill(actors[0]);
    await expect(m.get(actors[0].get.remote())).rejects.toBeInstanceOf(ActorDiedError);
    expect(await m.get(waiting, { timeoutMs: 20_000 })).toBe('ran'); // the freed slot runs it
    m.kill(actors[1]);
    await cl.until(() => c.actors.alive === 0);
    expect(c.statsJson().actorsDead).toBe(2);
  });
});
