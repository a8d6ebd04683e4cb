// Actor restarts (issue 6): an actor whose node dies restarts elsewhere,
// replays its logged calls (from its last checkpoint), and callers see
// results as if nothing happened.
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { ObjectRef } from '../../shared/index.js';
import { CheckpointedCounter, Counter } from '../helpers/counters.js';

let cl: Cluster | undefined;
afterEach(async () => {
  await cl?.stop();
  cl = undefined;
});

async function setup(): Promise<{ cl: Cluster; a: string }> {
  const c = await Cluster.start({ nodes: 2, cpus: 1, deadAfterMs: 2000 });
  return { cl: c, a: [...c.c.coordinator.gcs.nodes.keys()][0] };
}

describe('actor restarts', () => {
  it('a counter with maxRestarts whose node is killed after 100 calls: 200 calls in all, final count 200', async () => {
    const s = await setup();
    cl = s.cl;
    const m = await cl.driver();
    const c = cl.c.coordinator;
    const counter = m
      .remote(Counter)
      .options({ maxRestarts: 1, scheduling: { node: s.a, soft: true } })
      .remote();
    const first: ObjectRef<number>[] = [];
    for (let i = 0; i < 100; i++) first.push(counter.inc.remote());
    expect((await m.get(first)).at(-1)).toBe(100);
    expect(c.actors.get(counter.actorId as never)?.node?.id).toBe(s.a);
    await cl.nodes[0].kill('SIGKILL');
    const second: ObjectRef<number>[] = [];
    for (let i = 0; i < 100; i++) second.push(counter.inc.remote());
    const out = await m.get(second, { timeoutMs: 60_000 });
    expect(out).toEqual(Array.from({ length: 100 }, (_, i) => 101 + i));
    const st = await m.get(counter.stats.remote());
    expect(st.n).toBe(200);
    expect(st.runs).toBe(200); // 100 replayed + 100 new on the new node
    expect(c.gcs.events.some((e) => e.kind === 'actor-restarted')).toBe(true);
  });

  it('with checkpoint/restore, the replay starts from the last checkpoint', async () => {
    const s = await setup();
    cl = s.cl;
    const m = await cl.driver();
    const counter = m
      .remote(CheckpointedCounter)
      .options({ maxRestarts: 2, checkpointEvery: 30, scheduling: { node: s.a, soft: true } })
      .remote();
    const first: ObjectRef<number>[] = [];
    for (let i = 0; i < 100; i++) first.push(counter.inc.remote());
    await m.get(first);
    await cl.until(
      () => (cl!.c.coordinator.actors.get(counter.actorId as never)?.replay.length ?? 99) === 10,
      10_000,
      () => 'the checkpoint after call 90',
    );
    await cl.nodes[0].kill('SIGKILL');
    const second: ObjectRef<number>[] = [];
    for (let i = 0; i < 100; i++) second.push(counter.inc.remote());
    expect((await m.get(second, { timeoutMs: 60_000 })).at(-1)).toBe(200);
    // On the new node: restore(n = 90), 10 replayed calls, 100 new ones.
    expect(await m.get(counter.stats.remote())).toEqual({ n: 200, runs: 110 });
  });

  it('with its restarts spent, calls fail with ActorDiedError', async () => {
    const s = await setup();
    cl = s.cl;
    const m = await cl.driver();
    const counter = m
      .remote(Counter)
      .options({ scheduling: { node: s.a, soft: true } })
      .remote(); // maxRestarts 0
    await m.get(counter.inc.remote());
    await cl.nodes[0].kill('SIGKILL');
    await cl.until(() => cl!.c.coordinator.gcs.nodes.size === 1);
    await expect(m.get(counter.inc.remote(), { timeoutMs: 20_000 })).rejects.toMatchObject({ code: 'ACTOR_DIED' });
  });
});
