// A hard pin to another coordinator's link node survives a link flap (issue 14, session 22). A link node stands for
// another coordinator's nodes; its id was the link session's of the moment: when the link ended and came back (the
// link's socket closed, or the peer replaced its agent), the id changed and the owner failed the pinned tasks as
// pinned to a node that is gone. A link's node id is now the peer coordinator's mesh id: a pin to it waits while
// that coordinator lives (its registry record), and fails as Ray's hard node affinity does (node dead) once it is
// gone for good. Real coordinators (in-process, for the flap) on a real redis-server, real edge nodes.
import { describe, expect, it } from 'vitest';
import type { RunningCoordinator } from '../../coordinator/server.js';
import type { EdgeNode } from '../../edge/node.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { useRedis } from '../helpers/redis.js';
import { linkedInProcess, closeInProcess } from '../helpers/mesh.js';
import { until } from '../helpers/poll.js';
import { connect } from '../../edge/index.js';
import type { Mesh } from '../../shared/api/mesh.js';

declare const mesh: Mesh; // inside tasks

let driver: Mesh | undefined;
const inProcess: (RunningCoordinator | EdgeNode)[] = [];
const redis = useRedis(async () => {
  await driver?.close().catch(() => {});
  driver = undefined;
  await closeInProcess(inProcess);
});

/** A coordinator's mesh (white-box): its id, and frames with a peer lost for good (its agent for that peer replaced). */
interface MeshInside {
  id: string;
  lost(peer: string, why: string): void;
}
const inside = (c: RunningCoordinator) => c.coordinator.mesh as unknown as MeshInside;

/** A's node standing for coordinator `peer` (its link), if any. */
const linkOf = (c: RunningCoordinator, peer: string) => [...c.coordinator.gcs.nodes.values()].find((n) => n.link === peer) as NodeRecord | undefined;

/** Two coordinators with an edge node of 2 CPUs each, linked; a driver on A; A's link to B offers B's CPUs. */
async function linkedPair(prefix: string) {
  const { a, b, token } = await linkedInProcess(redis.server.url, prefix, inProcess);
  const bId = inside(b).id;
  await until(() => (linkOf(a, bId)?.resources.cpu ?? 0) >= 2, { timeoutMs: 15_000, what: "A's link to B offering B's CPUs" });
  driver = await connect({ url: a.url, token });
  const nodes = await driver.nodes();
  const link = nodes.filter((n) => n.name.startsWith('coordinator '));
  const bNode = [...b.coordinator.gcs.nodes.values()].find((n) => n.link === undefined)!.id;
  expect(link).toHaveLength(1);
  return { a, b, m: driver, bId, linkNode: link[0].nodeId, bNode };
}

/** Tasks pinned (hard) to the link: each runs 1.5 s on whichever node takes it and says which. */
function pinnedWork(m: Mesh, node: string) {
  return m
    .remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 1500));
      return { v: i * 11 + 4, node: mesh.runtimeContext().nodeId };
    })
    .options({ scheduling: { node, soft: false } });
}

type Flap = (a: RunningCoordinator, b: RunningCoordinator, bId: string) => void;
const flaps: [string, Flap][] = [
  // A closes B's link session (as when it takes the link for silent, or refuses a frame): B's agent says hello again.
  [
    "A closes the link's socket",
    (a, _b, bId) => {
      const s = [...a.coordinator.sessions].find((x) => x.meshLink === bId && !x.closed)!;
      s.ws.close(1006);
    },
  ],
  // B loses frames with A for good: it ends its agent for A (A's link to B ends) and makes a new one, which links again.
  ['B replaces its agent for A', (a, b) => inside(b).lost(inside(a).id, 'a link flap (test)')],
];

describe('a hard pin to a link node', () => {
  it.each(flaps)(
    'survives a link flap (%s): the pinned tasks run on B with their results, a pin made after it too',
    async (_, flap) => {
      const { a, b, m, bId, linkNode, bNode } = await linkedPair('pinflap');
      // The link's id is B's mesh id: the same whichever link session stands for B.
      expect(linkNode).toBe(bId);
      const before = linkOf(a, bId)!;
      // A finished pinned task whose output is stored on B's side (past the inline bound): its copy's holder here is
      // the link, so the flap loses it, and it is rebuilt by running its task again, on B (lineage.ts: a pin to a
      // link whose coordinator lives is no pin to a node gone).
      const stored = m
        .remote((n: number) => ({ node: mesh.runtimeContext().nodeId, bytes: new Uint8Array(n).fill(7) }))
        .options({ scheduling: { node: linkNode, soft: false } })
        .remote(200_000);
      expect((await m.wait([stored], { timeoutMs: 30_000 })).ready).toHaveLength(1);
      const work = pinnedWork(m, linkNode);
      const refs = Array.from({ length: 4 }, (_, i) => work.remote(i));
      // Mid-run: all four on the link, B's node running two of them.
      await until(() => before.tasks.size === 4 && b.coordinator.gcs.tasks.size >= 4, { timeoutMs: 15_000, what: 'the pinned tasks on B' });
      flap(a, b, bId);
      await until(
        () => {
          const now = linkOf(a, bId);
          return now !== undefined && now !== before;
        },
        { timeoutMs: 15_000, what: 'a new link of B on A' },
      );
      expect(linkOf(a, bId)!.id).toBe(bId);
      const got = await m.get(refs, { timeoutMs: 60_000 });
      expect(got).toEqual([0, 1, 2, 3].map((i) => ({ v: i * 11 + 4, node: bNode })));
      const back = await m.get(stored, { timeoutMs: 60_000 });
      expect(back.node).toBe(bNode);
      expect([back.bytes.length, back.bytes.every((x) => x === 7)]).toEqual([200_000, true]);
      expect(a.coordinator.gcs.stats.tasksRebuilt).toBeGreaterThanOrEqual(1);
      // The id from nodes() before the flap still names B.
      expect(await m.get(work.remote(9), { timeoutMs: 60_000 })).toEqual({ v: 103, node: bNode });
      expect((await m.nodes()).filter((n) => n.name.startsWith('coordinator ')).map((n) => n.nodeId)).toEqual([bId]);
      expect(a.coordinator.gcs.stats.tasksFailed).toBe(0);
    },
    120_000,
  );

  it('fails as pinned to a node that is gone once its coordinator is gone for good', async () => {
    const { a, b, m, bId, linkNode } = await linkedPair('pingone');
    const hold = m.remote(() => new Promise((r) => setTimeout(r, 600_000))).options({ scheduling: { node: linkNode, soft: false } });
    const refs = [hold.remote(), hold.remote()];
    await until(() => linkOf(a, bId)?.tasks.size === 2 && b.coordinator.gcs.tasks.size >= 2, { timeoutMs: 15_000, what: 'the pinned tasks on B' });
    inProcess.splice(inProcess.indexOf(b), 1);
    await b.close();
    for (const ref of refs) {
      await expect(m.get(ref, { timeoutMs: 30_000 })).rejects.toThrow(`it is pinned (node affinity, not soft) to node ${bId}, which is not in the mesh`);
    }
    // A pin made now fails too (B's id names no node, and no coordinator that lives).
    await expect(m.get(hold.remote(), { timeoutMs: 30_000 })).rejects.toThrow(`to node ${bId}, which is not in the mesh`);
  }, 120_000);
});
