// Task groups on a mesh of coordinators (issue 14, session 27): a driver's batch travels as task groups to its
// coordinator A, whose own nodes take slices; another coordinator B, linked to A, takes part of the batch as
// ordinary tasks once A's nodes have no room left (coordinator/groups/group-slices.ts overLinks). The results come
// back exact, also when B is SIGKILLed while it runs part of the batch (its link's tasks run again on A's node).
import { afterAll, describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { cleanupProcesses, edgeNodes, kill, linkOffers, printCoordinators, redisCoordinator, stats, statsWhen, type Coord } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

const meshes: Mesh[] = [];
/** The file's pair, made by its first case and used by the next (each case's job its own); the last case kills B. */
let pair: { token: string; a: Coord; b: Coord } | undefined;
const redis = useRedis(async () => {
  for (const m of meshes.splice(0)) await m.close().catch(() => {});
}, false);
afterAll(() => {
  pair = undefined;
  cleanupProcesses();
});

/** Two coordinators on the test's Redis (prefix `name`), one edge node of 2 CPUs each (on its own coordinator only), linked. */
async function linkedPair(name: string): Promise<{ token: string; a: Coord; b: Coord }> {
  const token = `${name}-` + Math.random().toString(36).slice(2);
  const [a, b] = await Promise.all([redisCoordinator(redis.server.url, name, token), redisCoordinator(redis.server.url, name, token)]);
  await Promise.all([edgeNodes(a, token, 1), edgeNodes(b, token, 1)]);
  for (const c of [a, b]) {
    await until(async () => ((await stats(c.url, token))?.meshLinks ?? 0) === 1, { timeoutMs: 15_000, what: `${c.url} to link to the other` });
    await linkOffers(c, token, 2);
  }
  return { token, a, b };
}

/** A batch's calls: two groups (MAX_GROUP 1,024 and the rest), more than A's node takes at once (it was 2,500 and 3,000: three groups). */
const N = 1100;

/** A batch of `n` calls of one function (~`ms` each), made in one synchronous turn: task groups of up to 1,024. */
function batch(m: Mesh, n: number, ms: number) {
  const work = m.remote(async (i: number, wait: number) => {
    await new Promise((r) => setTimeout(r, wait));
    return { i, sq: i * i + 3 };
  });
  const refs = Array.from({ length: n }, (_, i) => work.remote(i, ms));
  const want = Array.from({ length: n }, (_, i) => ({ i, sq: i * i + 3 }));
  return { refs, want };
}

describe('task groups across coordinator links', () => {
  it("a grouped batch on a mesh of two coordinators uses both coordinators' nodes and comes back exact", async () => {
    const { token, a, b } = (pair ??= await linkedPair('grp'));
    const m = await connect({ url: a.url, token });
    meshes.push(m);
    const { refs, want } = batch(m, N, 3);
    try {
      expect(await m.get(refs, { timeoutMs: 120_000 })).toEqual(want);
      const sa = await statsWhen(a.url, token, 'tasksFinished', N);
      const sb = (await stats(b.url, token))!;
      // Grouped: A's node ran slices; members went to B as ordinary tasks (materialized), and B ran them.
      expect(sa.groupsSubmitted).toBe(2);
      expect(sa.groupMembersPlaced).toBeGreaterThan(0);
      expect(sa.groupMembersMaterialized).toBeGreaterThan(0);
      expect(sa.tasksFinished).toBe(N);
      expect(sb.tasksFinished).toBeGreaterThan(0);
      expect(sb.tasksFinished).toBeLessThan(N);
      expect(sa.tasksFailed).toBe(0);
    } catch (e) {
      await printCoordinators([a, b], token);
      throw e;
    }
  }, 180_000);

  it('the other coordinator is SIGKILLed while it runs part of a grouped batch: the results still come back exact', async () => {
    // The pair of the case before when it ran (their counters go on: this case's figures are what its job added).
    const { token, a, b } = (pair ??= await linkedPair('grp'));
    pair = undefined; // B dies here
    const [a0, b0] = [(await stats(a.url, token))!, (await stats(b.url, token))!];
    const m = await connect({ url: a.url, token });
    meshes.push(m);
    const { refs, want } = batch(m, N, 10);
    const all = m.get(refs, { timeoutMs: 150_000 });
    try {
      // B takes part of the batch (it fails here without groups reaching links), then dies with some of it on hand.
      await until(async () => ((await stats(b.url, token))?.tasksFinished ?? 0) >= b0.tasksFinished + 40, {
        timeoutMs: 60_000,
        what: 'B to run part of the batch',
      });
      const before = (await stats(a.url, token))!;
      expect(before.tasksFinished - a0.tasksFinished).toBeLessThan(N);
      await kill(b);
      expect(await all).toEqual(want);
      const sa = await statsWhen(a.url, token, 'tasksFinished', a0.tasksFinished + N);
      expect(sa.groupsSubmitted - a0.groupsSubmitted).toBe(2);
      expect(sa.tasksFinished - a0.tasksFinished).toBe(N);
      expect(sa.tasksFailed).toBe(0);
      // A's link to B is gone; A's own node ran the rest.
      await until(async () => ((await stats(a.url, token))?.meshLinks ?? 1) === 0, { timeoutMs: 30_000, what: "A to drop B's link" });
    } catch (e) {
      await printCoordinators([a], token);
      throw e;
    }
  }, 240_000);
});
