// A task group's members that call out (groups on, the default): a member's put and its nested submits name it as
// their parent, which the coordinator checks against the tasks a node runs; a member on a slice has no record until
// then, and becomes an ordinary task there when it first acts (coordinator/groups/group-manager.ts materializeOn).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh; // inside tasks

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('task group members that call out', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2 });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  it('members put and read their own objects, and submit and get children; their mates that do not call out stay grouped', async () => {
    const f = m.remote(async (i: number) => {
      if (i % 3 === 0) return i; // no call out: stays a member
      if (i % 3 === 1) return (await mesh.get(mesh.put(i * 2))) as number;
      const sq = mesh.remote((x: number) => x * x);
      return (await mesh.get(sq.remote(i))) as number;
    });
    const refs = range(12).map((i) => f.remote(i));
    const want = range(12).map((i) => (i % 3 === 0 ? i : i % 3 === 1 ? i * 2 : i * i));
    expect(await m.get(refs)).toEqual(want);
    const c = cl.c.coordinator;
    expect(c.groups!.counts().groupsSubmitted).toBe(1);
    // The eight that called out were made ordinary tasks; the four others never were.
    expect(c.groups!.counts().groupMembersMaterialized).toBe(8);
    m.free(refs);
  });
});
