// Ported from ray-project/ray python/ray/tests/test_failure.py (issue 13).
// Ray's os._exit(0) inside a task is process.exit(0) here: on an edge node it
// ends that executor's worker thread (a crash of the worker, not of the node).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mesh } from '../../shared/api/mesh.js';
import { ActorDiedError, TaskError, WorkerCrashedError, type ActorHandle } from '../../shared/index.js';
import { raises, rayCluster, SIGNAL, SignalActor, type RayCluster, type Where } from './setup.js';

declare const mesh: Mesh; // inside tasks

/** Ray's expect_exception: get raises that error class, at once. */
async function expectException(m: Mesh, refs: Parameters<Mesh['get']>[0], cls: new (...a: never[]) => Error): Promise<void> {
  await raises(m.get(refs as never), [cls]);
}

describe.each<Where>(['edge nodes', 'volunteer tabs'])('test_failure.py on %s', (where) => {
  let rc: RayCluster;
  let m: Mesh;
  beforeAll(async () => {
    rc = await rayCluster(where, 2);
    m = rc.m;
  }, 120_000);
  afterAll(() => rc.stop());
  const edgeOnly = where === 'edge nodes' ? it : it.skip;

  it('test_get_throws_quickly_when_found_exception (a method that throws)', async () => {
    class Actor {
      bad_func1(): never {
        throw new Error('Test function intentionally failed.');
      }
      async slow_func(signal: ActorHandle<SignalActor>): Promise<void> {
        await mesh.get(signal.wait.remote());
      }
    }
    const signal1 = m.remote(SignalActor).options(SIGNAL).remote();
    const actor = m.remote(Actor).options({ maxConcurrency: 2 }).remote();
    await expectException(m, [actor.bad_func1.remote(), actor.slow_func.remote(signal1)], TaskError);
    await m.get(signal1.send.remote());
  });

  edgeOnly('test_get_throws_quickly_when_found_exception (a method whose worker dies)', async () => {
    class Actor {
      bad_func2(): void {
        process.exit(0);
      }
      async slow_func(signal: ActorHandle<SignalActor>): Promise<void> {
        await mesh.get(signal.wait.remote());
      }
    }
    const signal2 = m.remote(SignalActor).options(SIGNAL).remote();
    const actor = m.remote(Actor).options({ maxConcurrency: 2 }).remote();
    await expectException(m, [actor.bad_func2.remote(), actor.slow_func.remote(signal2)], ActorDiedError);
    await m.get(signal2.send.remote());
  });

  edgeOnly('test_worker_dying', async () => {
    const f = m.remote(() => process.exit(0), { maxRetries: 0 });
    const e = await raises(m.get(f.remote()), [WorkerCrashedError]);
    expect(e.message).toContain('crashed');
  });

  edgeOnly('test_worker_dying is a system failure: retried within maxRetries (as a lost node)', async () => {
    class Tries {
      n = 0;
      next(): number {
        return ++this.n;
      }
    }
    const tries = m.remote(Tries).remote();
    const f = m.remote(
      async (t: ActorHandle<Tries>) => {
        if ((await mesh.get(t.next.remote())) < 3) process.exit(1);
        return 'survived';
      },
      { maxRetries: 2 },
    );
    expect(await m.get(f.remote(tries))).toBe('survived');
    expect(await m.get(tries.next.remote())).toBe(4);
  });

  edgeOnly('test_actor_worker_dying', async () => {
    class Actor {
      kill(): void {
        process.exit(0);
      }
    }
    const consume = m.remote((x: unknown) => x);
    const a = m.remote(Actor).remote();
    const obj = a.kill.remote();
    const e = await raises(m.get(obj), [ActorDiedError]);
    expect(e.message).toContain('crashed'); // the cause is said
    await raises(m.get(consume.remote(obj)), [ActorDiedError]);
  });

  edgeOnly('test_actor_worker_dying_future_tasks', async () => {
    class Actor {
      getpid(): string {
        return 'pid';
      }
      sleep(): void {
        process.exit(0);
      }
    }
    const a = m.remote(Actor).remote();
    expect(await m.get(a.getpid.remote())).toBe('pid');
    const tasks1 = Array.from({ length: 10 }, () => a.sleep.remote());
    const tasks2 = Array.from({ length: 10 }, () => a.sleep.remote());
    for (const obj of [...tasks1, ...tasks2]) await raises(m.get(obj), [ActorDiedError]);
  });

  edgeOnly('test_actor_worker_dying_nothing_in_progress', async () => {
    class Actor {
      getpid(): string {
        return 'pid';
      }
      die(): void {
        setTimeout(() => process.exit(0), 0); // dies after the call answered
      }
    }
    const a = m.remote(Actor).remote();
    await m.get(a.die.remote());
    await rc.cl.until(() => rc.cl.c.coordinator.actors.get(a.actorId as never)?.state === 'dead');
    await raises(m.get(a.getpid.remote()), [ActorDiedError]);
  });

  // Ray restarts with a fresh instance; tabmesh replays the calls that finished since the last
  // checkpoint (docs/decisions.md), so the restarted counter is back at 1 and the next inc says 2.
  edgeOnly('an actor whose worker dies restarts within maxRestarts (constructor, then the finished calls replayed), then dies', async () => {
    class Fragile {
      n = 0;
      inc(): number {
        return ++this.n;
      }
      crash(): void {
        process.exit(0);
      }
    }
    const a = m.remote(Fragile).options({ maxRestarts: 1 }).remote();
    expect(await m.get(a.inc.remote())).toBe(1);
    await raises(m.get(a.crash.remote()), [ActorDiedError]);
    expect(await m.get(a.inc.remote())).toBe(2); // the crashing call is not replayed
    await raises(m.get(a.crash.remote()), [ActorDiedError]);
    const e = await raises(m.get(a.inc.remote()), [ActorDiedError]);
    expect(e.message).toContain('restart(s) are spent');
  });

  edgeOnly('an actor whose constructor kills its worker fails its calls with ActorDiedError, saying so', async () => {
    class Doomed {
      constructor() {
        process.exit(0);
      }
      hello(): string {
        return 'hi';
      }
    }
    const d = m.remote(Doomed).remote();
    const e = await raises(m.get(d.hello.remote()), [ActorDiedError]);
    expect(e.message).toContain('constructor');
  });
});
