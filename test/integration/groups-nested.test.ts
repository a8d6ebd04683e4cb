// Task groups' members that block on nested work (issue 14, session 27): a member waiting in get/wait gives its
// CPU back at the coordinator as a plain task does (`groupBlocked`), so the children it waits for are placed on
// its node. Without that, a node full of blocked members had no room for their children: nothing ever ran.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh; // inside tasks

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('members that block on nested work, one node of 1 CPU', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 1 });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  it('members get their children: every member ends with its value, the node holds no CPU after', async () => {
    const c = cl.c.coordinator;
    const child = m.remote((x: number) => x * 2);
    const parent = m.remote(async (x: number, ch: typeof child) => (await mesh.get(ch.remote(x))) + 1);
    const refs = range(6).map((i) => parent.remote(i, child));
    expect(await m.get(refs)).toEqual(range(6).map((i) => i * 2 + 1));
    expect(c.statsJson().groupsSubmitted).toBeGreaterThan(0);
    const node = [...c.gcs.nodes.values()][0];
    await cl.until(
      () => node.inflightTasks === 0 && (node.inflight.cpu ?? 0) === 0,
      10_000,
      () => `node holds ${node.inflightTasks} tasks, ${node.inflight.cpu} CPU`,
    );
  });

  it('members that make an actor and get its calls (test_actor.py test_define_actor_within_remote_function)', async () => {
    const f = m.remote(async (x: number, n: number) => {
      class Holder {
        constructor(readonly x: number) {}
        value(): number {
          return this.x;
        }
      }
      const a = mesh.remote(Holder).remote(x);
      return mesh.get(Array.from({ length: n }, () => a.value.remote()));
    });
    expect(await m.get(range(5).map((i) => f.remote(i, 4)))).toEqual(range(5).map((i) => Array(4).fill(i)));
  });
});
