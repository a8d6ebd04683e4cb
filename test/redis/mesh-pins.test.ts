// Pins and give-back across a mesh link (issue 14, session 21). A coordinator places tasks of its job on another's
// nodes through their link and asks for them back when its own nodes go idle (test/redis/mesh-give-back):
// - a task pinned to the link (node affinity, hard or soft without `spill`) waits for the link as a pin waits for its
//   node while the node lives and can run it (Ray's NodeAffinitySchedulingStrategy): the other side runs it, never
//   hands it back, never fails it;
// - a node asked to hand back the asker's tasks hands back those, not its newest of another job.
import { afterAll, describe, expect, it } from 'vitest';
import { useRedis } from '../helpers/redis.js';
import { cleanupProcesses, edgeNodes, linkOffers, printCoordinators, redisCoordinator, runNode, stats, statsWhen, type Coord } from '../helpers/processes.js';
import { until } from '../helpers/poll.js';
import { untilIdle } from '../helpers/mesh.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh; // inside tasks

const meshes: Mesh[] = [];
// One pair of coordinator processes for the file (4 process starts, not 12): nothing here kills or stops one. Each
// case has its own drivers (its own jobs), functions of its own source (a function measured in an earlier case is
// pipelined deeper), counters as differences from where it starts, and starts on a clean pair (clean()).
const redis = useRedis(async () => {
  for (const m of meshes.splice(0)) await m.close().catch(() => {});
}, false);
afterAll(() => cleanupProcesses());

interface Pair {
  token: string;
  a: Coord;
  b: Coord;
  aNode: string;
  bNode: string;
  linkNode: string;
}

/** Two coordinators on the test's Redis, one edge node of 2 CPUs each, linked to each other; their node ids. */
async function linkedPair(name: string): Promise<Pair> {
  const token = `${name}-` + Math.random().toString(36).slice(2);
  const [a, b] = await Promise.all([redisCoordinator(redis.server.url, name, token), redisCoordinator(redis.server.url, name, token)]);
  runNode(b.url, 2);
  await edgeNodes(a, token, 1);
  // 60 s, as edgeNodes' wait for A's: at load ~30 (session 35) B's node process had not joined in 30 s.
  await until(async () => ((await stats(b.url, token))?.nodes ?? 0) >= 1, { timeoutMs: 60_000, what: "B's node" });
  for (const c of [a, b]) {
    await until(async () => ((await stats(c.url, token))?.meshLinks ?? 0) === 1, { timeoutMs: 15_000, what: `${c.url} to link to the other` });
  }
  const [ma, mb] = [await connect({ url: a.url, token }), await connect({ url: b.url, token })];
  try {
    const ownOf = async (m: Mesh) => (await m.nodes()).filter((n) => !n.name.startsWith('coordinator '));
    const [aOwn, bOwn, link] = [await ownOf(ma), await ownOf(mb), (await ma.nodes()).filter((n) => n.name.startsWith('coordinator '))];
    expect([aOwn.length, bOwn.length, link.length]).toEqual([1, 1, 1]);
    return { token, a, b, aNode: aOwn[0].nodeId, bNode: bOwn[0].nodeId, linkNode: link[0].nodeId };
  } finally {
    await Promise.all([ma.close(), mb.close()]);
  }
}

let shared: Promise<Pair> | undefined;

/**
 * The file's pair, clean: no job and no task left on either side by an earlier case (its drivers closed, its held
 * tasks cancelled), the same nodes as at the start, and A's link offering B's 2 CPUs (a soft pin to a link offering
 * none runs on A at once); then a driver on each side for this case.
 */
async function clean() {
  const p = await (shared ??= linkedPair('pins'));
  await untilIdle([p.a, p.b], p.token);
  await linkOffers(p.a, p.token, 2);
  const ma = await connect({ url: p.a.url, token: p.token });
  const mb = await connect({ url: p.b.url, token: p.token });
  meshes.push(ma, mb);
  const [sa0, sb0] = [(await stats(p.a.url, p.token))!, (await stats(p.b.url, p.token))!];
  return { ...p, ma, mb, sa0, sb0 };
}

/** Tasks that hold a CPU of their node for 10 minutes: one source per case. */
const holdFns = {
  hard: () => new Promise((r) => setTimeout(r, 600_000)),
  soft: () => new Promise((r) => setTimeout(r, 600_001)),
};
/** Where a pinned task ran: one source per case. */
const whereFns = {
  hard: (i: number) => ({ i, node: mesh.runtimeContext().nodeId, pin: 'hard' }),
  soft: (i: number) => ({ i, node: mesh.runtimeContext().nodeId, pin: 'soft' }),
};

describe('pins and give-back across a link', () => {
  it.each([
    ['hard', false],
    ['soft', true],
  ])(
    'tasks pinned (%s) to the link wait for it while its nodes are busy and our node idles, then run there',
    async (_, soft) => {
      // Before, hard: the other side placed them as pinned to a node it does not have (our id for its link) and failed
      // them as lost; those it held were handed back, and a link that gave a task back is infeasible for it, which
      // a hard pin cannot leave: none of the 4 was ever ready. Soft: handed back, they ran on our node at once (Ray's
      // soft affinity waits for a busy node; `spill` moves on: test/redis/mesh-give-back).
      const pin = soft ? 'soft' : 'hard';
      const { token, a, b, ma, mb, aNode, bNode, linkNode, sa0, sb0 } = await clean();
      const hold = mb.remote(holdFns[pin]).options({ scheduling: { node: bNode, soft: false } });
      const holders = [hold.remote(), hold.remote(), hold.remote(), hold.remote()];
      await until(async () => ((await stats(b.url, token))?.tasks ?? 0) >= 4, { timeoutMs: 15_000, what: "B's own job to be placed" });

      const where = ma.remote(whereFns[pin]).options({ scheduling: { node: linkNode, soft } });
      const refs = Array.from({ length: 4 }, (_, i) => where.remote(i));
      await until(async () => ((await stats(b.url, token))?.tasksSubmitted ?? 0) >= sb0.tasksSubmitted + 8, {
        timeoutMs: 30_000,
        what: 'the pinned tasks to reach B',
      }).catch(async (e) => {
        await printCoordinators([a, b], token);
        throw e;
      });
      // A's node is idle the whole time: its rebalancer has rounds to ask the link; the pinned tasks stay with the link.
      const early = await ma.wait(refs, { numReturns: 4, timeoutMs: 3000 });
      expect(early.ready).toHaveLength(0);
      for (const h of holders) mb.cancel(h, { force: true });
      const got = await ma.get(refs, { timeoutMs: 60_000 });
      expect(got.map((r) => r.i)).toEqual([0, 1, 2, 3]);
      for (const r of got) expect(r.node).toBe(bNode);
      expect(got.every((r) => r.node !== aNode)).toBe(true);
      const sa = await statsWhen(a.url, token, 'tasksFinished', sa0.tasksFinished + 4);
      const sb = (await stats(b.url, token))!;
      expect(sa.tasksRetried - sa0.tasksRetried).toBe(0);
      expect(sa.tasksFailed - sa0.tasksFailed).toBe(0);
      expect(sb.meshGivenBack - sb0.meshGivenBack).toBe(0);
    },
    180_000,
  );

  it("a node asked for the asker's tasks hands back those, not its newest task of another job", async () => {
    // A's job: two long tasks go to B through the link and hold both CPUs of B's node; two more of A's wait behind
    // them there; then each long one submits a task, which B runs as its own (a guest task's child: B's nodes
    // only), queued last on that node. Before: the node, asked for A's 2, handed back its 2 newest: the child
    // and one of A's; asked for the last one, it gave the child again: A's job never ended.
    const { token, a, b, ma, mb, bNode, aNode, sb0 } = await clean();
    // The child's function measured short on B (the same source from B's driver), so that B's node, full for A's
    // unmeasured function, still queues it (a short function is pipelined deeper). B's own job then has nothing left.
    const quick = mb.remote((i: number) => i + 1);
    const warm = Array.from({ length: 4 }, (_, i) => quick.options({ scheduling: { node: bNode, soft: false } }).remote(i));
    expect(await mb.get(warm)).toEqual([1, 2, 3, 4]);

    // A's node busy for 10 s with tasks pinned there: plain tasks go to the link meanwhile, and A asks nothing back.
    const busy = ma.remote(() => new Promise((r) => setTimeout(r, 10_000))).options({ scheduling: { node: aNode, soft: false } });
    const busyRefs = [busy.remote(), busy.remote()];
    await until(async () => ((await stats(a.url, token))?.tasks ?? 0) >= 2, { timeoutMs: 15_000, what: "A's node to be busy" });
    // Submitted together, placed in one pass: the long ones first (their class first), so they start on B's node and
    // the work waits behind them; the children come 6 s later, after the work on that node.
    const hold = ma.remote(async () => {
      await new Promise((r) => setTimeout(r, 6000));
      mesh.remote((i: number) => i + 1).remote(100);
      await new Promise((r) => setTimeout(r, 600_000));
    });
    const work = ma.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 20));
      return i * 3;
    });
    const holders = [hold.remote(), hold.remote()];
    const refs = Array.from({ length: 6 }, (_, i) => work.remote(i));
    await until(async () => ((await stats(b.url, token))?.tasksSubmitted ?? 0) >= sb0.tasksSubmitted + 4 + 2 + 2 + 1, {
      timeoutMs: 30_000,
      what: 'the long tasks, work and the children on B',
    }).catch(async (e) => {
      await printCoordinators([a, b], token);
      throw e;
    });

    expect(await ma.get(refs, { timeoutMs: 60_000 })).toEqual(Array.from({ length: 6 }, (_, i) => i * 3));
    const sb = (await stats(b.url, token))!;
    expect(sb.meshGivenBackFromNodes - sb0.meshGivenBackFromNodes).toBeGreaterThan(0);
    await ma.get(busyRefs, { timeoutMs: 30_000 });
    for (const h of holders) ma.cancel(h, { force: true });
  }, 180_000);
});
