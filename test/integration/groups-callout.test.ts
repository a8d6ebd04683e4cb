// A task group's members that call out (groups on, the default): a member's put and its nested submits name it as
// their parent, which the coordinator checks against the tasks a node runs; a member on a slice has no record until
// then, and becomes an ordinary task there when it first acts (its node sends groupCallOut first: group-reports.ts callOut).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import { leased, ON, recorded } from '../helpers/direct-driver.js';
import { coreOf } from '../helpers/sequential.js';
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

  it('a member made a task by its call out is running at the coordinator while it runs (its start reported), then finished', async () => {
    class Gate {
      open = false;
      waiters: Array<() => void> = [];
      send(): void {
        this.open = true;
        for (const w of this.waiters.splice(0)) w();
      }
      async wait(): Promise<boolean> {
        if (!this.open) await new Promise<void>((r) => this.waiters.push(r));
        return true;
      }
    }
    const gate = m.remote(Gate).options({ name: 'callout-gate', numCpus: 0, maxConcurrency: 100 }).remote();
    const before = cl.c.coordinator.groups!.counts().groupsSubmitted;
    const f = m.remote(async (i: number) => {
      const g = await mesh.getActor<Gate>('callout-gate'); // a call out: the member is a task from here on
      await mesh.get(g.wait.remote());
      return i;
    });
    const refs = range(4).map((i) => f.remote(i));
    const ids = refs.map((r) => r.id.slice(0, 32));
    const c = cl.c.coordinator;
    const states = () => ids.map((id) => c.gcs.tasks.get(id as never)?.state ?? 'member');
    await cl.until(
      () => states().every((s) => s === 'running'),
      20_000,
      () => `the members running, they are ${states().join(', ')}`,
    );
    expect(c.groups!.counts().groupsSubmitted).toBe(before + 1); // one group: its members ran as members first
    m.get(gate.send.remote()).catch(() => {});
    expect(await m.get(refs)).toEqual(range(4));
    expect(states()).toEqual(['finished', 'finished', 'finished', 'finished']);
    m.free(refs);
  });
});

describe('task group members that call out on a node a driver holds a direct lease on', () => {
  let cl: Cluster;
  afterAll(() => cl.stop());

  it("the node's messages wait for records (record-waits.ts): a member's put and child are recorded at once, not held", async () => {
    cl = await Cluster.start({ nodes: 0 });
    await cl.addNode({ cpus: 2, env: ON });
    const m = await cl.driver({ direct: true });
    await leased(m, [...cl.c.coordinator.gcs.nodes.keys()][0]);
    expect(coreOf(m).direct?.counts.sent).toBeGreaterThan(0);
    // The lease's own direct tasks may have had a message wait for their record (their driver's submit came second,
    // a race record-waits.ts exists for): only the members' messages are counted below.
    await recorded(cl, m);
    const waits = cl.c.coordinator.statsJson().recordWaits;
    const f = m.remote(async (i: number) => {
      const x = (await mesh.get(mesh.put(i))) as number;
      return (await mesh.get(mesh.remote((y: number) => y + 1).remote(x))) as number;
    });
    const refs = range(8).map((i) => f.remote(i));
    expect(await m.get(refs, { timeoutMs: 20_000 })).toEqual(range(8).map((i) => i + 1));
    expect(cl.c.coordinator.groups!.counts().groupsSubmitted).toBe(1);
    expect(cl.c.coordinator.statsJson().recordWaits - waits).toBe(0);
  });

  it("a member's console line (named by its group and index, no record) is not held as naming an unknown task", async () => {
    const m = await cl.driver({ direct: true });
    await leased(m, [...cl.c.coordinator.gcs.nodes.keys()][0]);
    await recorded(cl, m);
    const waits = cl.c.coordinator.statsJson().recordWaits;
    const f = m.remote((i: number) => {
      console.log(`member ${i}`);
      return i;
    });
    const refs = range(8).map((i) => f.remote(i));
    expect(await m.get(refs, { timeoutMs: 20_000 })).toEqual(range(8));
    expect(cl.c.coordinator.statsJson().recordWaits - waits).toBe(0);
  });
});
