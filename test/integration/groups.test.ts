// Task groups end to end (docs/decisions.md "Task groups"): the driver groups a turn's calls, the coordinator
// places slices, edge-node processes run them. Every scenario checks exact results and, after the driver frees
// what it holds, a drained coordinator (tasks 0, objects 0, groups 0).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from '../helpers/cluster.js';
import type { Mesh } from '../../shared/api/mesh.js';
import type { ObjectRef } from '../../shared/index.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Waits until the coordinator holds no task, object or group. */
async function drained(cl: Cluster): Promise<void> {
  const c = cl.c.coordinator;
  await cl.until(
    () => c.gcs.tasks.size === 0 && c.gcs.objects.size === 0 && (c.groups?.table.groups.size ?? 0) === 0,
    20_000,
    () => `not drained: tasks ${c.gcs.tasks.size} objects ${c.gcs.objects.size} groups ${c.groups?.table.groups.size}`,
  );
}

describe('task groups on one edge node', () => {
  let cl: Cluster;
  let m: Mesh;
  beforeAll(async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2, groups: true });
    m = await cl.driver();
  });
  afterAll(() => cl.stop());

  it('20,000 tasks of one turn: exact results, a few messages per group, a drained coordinator after free', async () => {
    const c = cl.c.coordinator;
    const before = c.statsJson();
    const sq = m.remote((x: number) => x * x);
    const refs = range(20_000).map((i) => sq.remote(i));
    expect(await m.get(refs)).toEqual(range(20_000).map((i) => i * i));
    const after = c.statsJson();
    expect(after.groupsSubmitted - before.groupsSubmitted).toBe(Math.ceil(20_000 / 1024));
    expect(after.tasksSubmitted - before.tasksSubmitted).toBe(20_000);
    expect(after.tasksFinished - before.tasksFinished).toBe(20_000);
    // No per-task message at the coordinator: one submitGroup a group, slices and reports per batch of members.
    expect(after['traffic.in.submit'] ?? 0).toBe(before['traffic.in.submit'] ?? 0);
    expect(after['traffic.in.done'] ?? 0).toBe(before['traffic.in.done'] ?? 0);
    m.free(refs);
    await drained(cl);
  });

  it('members passed as arguments to other tasks, nested in a put, and got by the owner', async () => {
    const inc = m.remote((x: number) => x + 1);
    const sum = m.remote((...xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const firsts = range(16).map((i) => inc.remote(i));
    const total = sum.remote(...firsts.slice(0, 8));
    const box = m.put({ inner: firsts[9] });
    const read = m.remote(async (b: { inner: ObjectRef<number> }) => (await mesh.get(b.inner)) * 10);
    expect(await m.get(total)).toBe(range(8).reduce((a, i) => a + i + 1, 0));
    const r = read.remote(box);
    expect(await m.get(r)).toBe(100);
    expect(await m.get(firsts)).toEqual(range(16).map((i) => i + 1));
    m.free([...firsts, total, box, r]);
    await drained(cl);
  });

  it('members that throw: retried with retryExceptions until they succeed, else failed with their error', async () => {
    const flaky = m.remote(
      (i: number) => {
        const g = globalThis as { __tries?: Record<number, number> };
        const t = ((g.__tries ??= {})[i] = (g.__tries[i] ?? 0) + 1);
        if (i % 5 === 0 && t < 2) throw new Error(`flaky ${i}`);
        return i;
      },
      { retryExceptions: true, maxRetries: 3 },
    );
    const bad = m.remote((i: number) => {
      if (i === 3) throw new Error('three is bad');
      return i;
    });
    const a = range(40).map((i) => flaky.remote(i));
    const b = range(8).map((i) => bad.remote(i));
    expect(await m.get(a)).toEqual(range(40));
    await expect(m.get(b[3])).rejects.toThrow(/three is bad/);
    expect(await m.get(b.filter((_, i) => i !== 3))).toEqual([0, 1, 2, 4, 5, 6, 7]);
    m.free([...a, ...b]);
    await drained(cl);
  });

  it('a cancelled member ends cancelled; its group mates finish', async () => {
    const slow = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 50));
      return i;
    });
    const refs = range(12).map((i) => slow.remote(i));
    m.cancel(refs[11]);
    await expect(m.get(refs[11])).rejects.toThrow(/cancel/i);
    expect(await m.get(refs.slice(0, 11))).toEqual(range(11));
    m.free(refs);
    await drained(cl);
  });

  it('a large result (stored on its node) is read as an object; its group mates inline', async () => {
    const make = m.remote((n: number) => new Uint8Array(n).fill(n % 251));
    const sizes = [10, 200_000, 20, 30];
    const refs = sizes.map((n) => make.remote(n));
    const out = (await m.get(refs)) as Uint8Array[];
    expect(out.map((x) => x.byteLength)).toEqual(sizes);
    expect(out[1][199_999]).toBe(200_000 % 251);
    expect(cl.c.coordinator.statsJson().groupMembersMaterialized).toBeGreaterThan(0);
    m.free(refs);
    await drained(cl);
  });

  it("a driver whose socket drops resumes and gets every member's value", async () => {
    const m2 = await cl.driver({ reconnectTimeoutMs: 30_000 });
    const slow = m2.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 5));
      return i * 2;
    });
    const c = cl.c.coordinator;
    const before = c.statsJson().tasksFinished;
    const refs = range(200).map((i) => slow.remote(i));
    // Its group is on record and under way: its driver's socket drops.
    const grp = () => [...c.groups!.table.groups.values()].find((g) => g.n === 200);
    await cl.until(() => grp() !== undefined && c.statsJson().tasksFinished > before, 10_000);
    grp()!.job.driver!.ws.terminate();
    expect(await m2.get(refs)).toEqual(range(200).map((i) => i * 2));
    m2.free(refs);
    await drained(cl);
    await m2.close();
  });
});

describe('task groups with a node killed mid-group', () => {
  let cl: Cluster;
  afterAll(() => cl?.stop());

  it("a node's process killed while it holds slices: its members run elsewhere, results exact", async () => {
    cl = await Cluster.start({ nodes: 2, cpus: 2, groups: true });
    const m = await cl.driver();
    const slow = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 20));
      return i + 1000;
    });
    const refs = range(400).map((i) => slow.remote(i));
    const c = cl.c.coordinator;
    await cl.until(() => c.statsJson().tasksFinished >= 40, 20_000);
    await cl.nodes[0].kill('SIGKILL');
    expect(await m.get(refs)).toEqual(range(400).map((i) => i + 1000));
    expect(c.statsJson().groupMembersRetried).toBeGreaterThan(0);
    m.free(refs);
    await drained(cl);
  });
});

describe('a coordinator with groups off', () => {
  let cl: Cluster;
  afterAll(() => cl?.stop());

  it('runs the same calls one task at a time', async () => {
    cl = await Cluster.start({ nodes: 1, cpus: 2, groups: false });
    const m = await cl.driver();
    const sq = m.remote((x: number) => x * x);
    const refs = range(500).map((i) => sq.remote(i));
    expect(await m.get(refs)).toEqual(range(500).map((i) => i * i));
    const st = cl.c.coordinator.statsJson();
    expect(st.groups).toBe(0);
    expect(st.groupsSubmitted).toBeUndefined();
    expect(st['traffic.in.submit']).toBeGreaterThanOrEqual(500);
    m.free(refs);
    await drained(cl);
  });
});

declare const mesh: Mesh; // inside tasks
