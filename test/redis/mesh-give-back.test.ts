// Work stealing back from a link (issue 14): a coordinator placed tasks of its
// job on another coordinator's nodes through their link, and those nodes are
// busy with the other's own job, so the tasks wait there while our own node
// goes idle. Asked (`giveBack`), the other hands back what has not started,
// both the tasks still in its queue and those waiting on its node; they run
// on ours, and the job ends while the other's node is still busy.
import { afterAll, describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { cleanupProcesses, edgeNodes, linkOffers, printCoordinators, redisCoordinator, stats, statsWhen, type Coord } from '../helpers/processes.js';
import { untilIdle } from '../helpers/mesh.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

const meshes: Mesh[] = [];
// One pair of coordinator processes for the file (4 process starts, not 8): nothing here kills or stops one. Each
// case has its own drivers (its own jobs), functions of its own source (a function measured in an earlier case is
// pipelined deeper: these cases need B's node to take 2 tasks a CPU of an unmeasured one), counters as differences
// from where it starts, and starts on an idle pair (B's node empty: the earlier case's held tasks are gone).
const redis = useRedis(async () => {
  for (const m of meshes.splice(0)) await m.close().catch(() => {});
}, false);
afterAll(() => cleanupProcesses());

/** Two coordinators on the test's Redis (prefix `name`), one edge node each, linked to each other. */
async function linkedPair(name: string): Promise<{ token: string; a: Coord; b: Coord }> {
  const token = `${name}-` + Math.random().toString(36).slice(2);
  const [a, b] = await Promise.all([redisCoordinator(redis.server.url, name, token), redisCoordinator(redis.server.url, name, token)]);
  await Promise.all([edgeNodes(a, token, 1), edgeNodes(b, token, 1)]);
  return { token, a, b };
}

let shared: Promise<{ token: string; a: Coord; b: Coord }> | undefined;

/** The file's pair, idle, each link offering the other's 2 CPUs; counters as the case starts. */
async function idlePair() {
  const p = await (shared ??= linkedPair('giveback'));
  await untilIdle([p.a, p.b], p.token);
  for (const c of [p.a, p.b]) await linkOffers(c, p.token, 2);
  const [sa0, sb0] = [(await stats(p.a.url, p.token))!, (await stats(p.b.url, p.token))!];
  return { ...p, sa0, sb0 };
}

describe('work stealing back from a link', () => {
  it("tasks waiting behind the other coordinator's own job come back and run on our idle node", async () => {
    const { token, a, b, sa0, sb0 } = await idlePair();
    // B's own job holds both CPUs of B's node for far longer than this test waits, and a third task of it waits there
    // (pinned to it: a plain task of B's could go to A through B's link): the node has room for one task of A's job
    // (2 tasks a CPU while the function is not measured), the rest waits in B's queue.
    const mb = await connect({ url: b.url, token });
    meshes.push(mb);
    const own = (await mb.nodes()).filter((n) => !n.name.startsWith('coordinator '));
    expect(own).toHaveLength(1);
    // One source per case (holding 600,000 ms and 600,001 ms).
    const hold = mb.remote(() => new Promise((r) => setTimeout(r, 600_000))).options({ scheduling: { node: own[0].nodeId, soft: false } });
    const holders = [hold.remote(), hold.remote(), hold.remote()];
    await until(async () => ((await stats(b.url, token))?.tasks ?? 0) >= 3, { timeoutMs: 15_000, what: "B's own job to be placed" });

    const ma = await connect({ url: a.url, token });
    meshes.push(ma);
    const work = ma.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 20));
      return i * 3;
    });
    const refs = Array.from({ length: 40 }, (_, i) => work.remote(i));
    // Some of them went to B through the link; B's node cannot start them before its own job ends (10 minutes).
    await until(async () => ((await stats(b.url, token))?.tasksSubmitted ?? 0) > sb0.tasksSubmitted + 3, {
      timeoutMs: 30_000,
      what: 'tasks of the job to reach B',
    });
    expect(await ma.get(refs, { timeoutMs: 90_000 })).toEqual(Array.from({ length: 40 }, (_, i) => i * 3));

    const sa = await statsWhen(a.url, token, 'tasksFinished', sa0.tasksFinished + 40);
    const sb = (await stats(b.url, token))!;
    expect(sa.rebalanceAskedLinks - sa0.rebalanceAskedLinks).toBeGreaterThan(0);
    // Both ways back: one waited on B's node (handed back by the node), the rest in B's queue (at once).
    const fromNodes = sb.meshGivenBackFromNodes - sb0.meshGivenBackFromNodes;
    expect(fromNodes).toBeGreaterThan(0);
    expect(sb.meshGivenBack - sb0.meshGivenBack).toBeGreaterThan(fromNodes);
    // B finished none of them: every task of the job ran on A's node, B's node still runs B's own job.
    expect(sb.tasksFinished - sb0.tasksFinished).toBe(0);
    expect(sa.tasksFinished - sa0.tasksFinished).toBe(40);
    for (const h of holders) mb.cancel(h, { force: true });
  }, 180_000);

  it('tasks with a spilling soft affinity to the link come back too and run on our idle node, not wait for the link for good', async () => {
    // session 19's mesh-p2p "2 of 4 reducers never ready": reducers soft-pinned to the link node were handed back
    // (A's node idle, B's busy); a link that gave a task back never takes it again, and a soft affinity fell back to
    // other nodes only when its node was gone or infeasible: they waited on A's queue for good. Since session 21 a soft
    // affinity alone waits for its busy node (Ray's; test/redis/mesh-pins) and is never given back: `spill` moves on.
    const { token, a, b, sa0, sb0 } = await idlePair();
    const mb = await connect({ url: b.url, token });
    meshes.push(mb);
    const own = (await mb.nodes()).filter((n) => !n.name.startsWith('coordinator '));
    const hold = mb.remote(() => new Promise((r) => setTimeout(r, 600_001))).options({ scheduling: { node: own[0].nodeId, soft: false } });
    // B's node full with B's own job (2 running, 2 waiting: 2 tasks a CPU while the function is not measured): A's
    // tasks wait in B's queue, and B hands them back at once when asked.
    const holders = [hold.remote(), hold.remote(), hold.remote(), hold.remote()];
    await until(async () => ((await stats(b.url, token))?.tasks ?? 0) >= 4, { timeoutMs: 15_000, what: "B's own job to be placed" });

    const ma = await connect({ url: a.url, token });
    meshes.push(ma);
    const link = (await ma.nodes()).filter((n) => n.name.startsWith('coordinator '));
    expect(link).toHaveLength(1);
    // Its own source (21 ms: the first case's `work` is measured by now).
    const work = ma
      .remote(async (i: number) => {
        await new Promise((r) => setTimeout(r, 21));
        return i * 3;
      })
      .options({ scheduling: { node: link[0].nodeId, soft: true, spill: true } });
    const refs = Array.from({ length: 8 }, (_, i) => work.remote(i));
    await until(async () => ((await stats(b.url, token))?.tasksSubmitted ?? 0) > sb0.tasksSubmitted + 4, {
      timeoutMs: 30_000,
      what: 'tasks of the job to reach B',
    });
    const got = await ma.get(refs, { timeoutMs: 60_000 }).catch(async (e: unknown) => {
      await printCoordinators([a, b], token);
      throw e;
    });
    expect(got).toEqual(Array.from({ length: 8 }, (_, i) => i * 3));
    const sa = await statsWhen(a.url, token, 'tasksFinished', sa0.tasksFinished + 8);
    const sb = (await stats(b.url, token))!;
    expect(sb.meshGivenBack - sb0.meshGivenBack).toBeGreaterThan(0);
    expect(sb.tasksFinished - sb0.tasksFinished).toBe(0);
    expect(sa.tasksFinished - sa0.tasksFinished).toBe(8);
    for (const h of holders) mb.cancel(h, { force: true });
  }, 180_000);
});
