// Lineage refuses to rebuild the output of a task hard-pinned to a node gone for good (issue 14, session 23): its
// error carries the same reason as the scheduler's for such a pin (placement-rules.ts pinnedGone): a link down past
// the bound while its coordinator lives, or a coordinator that left the mesh (and what its URL is now), not only
// "which is gone". A real Gcs and Lineage; the object directory records what lineage decides.
import { describe, expect, it } from 'vitest';
import { Lineage } from '../../coordinator/lineage/lineage.js';
import type { ObjectDirectory } from '../../coordinator/objects/directory.js';
import type { ObjectRecord } from '../../coordinator/gcs/tables.js';
import { Holders } from '../../coordinator/objects/holders.js';
import { returnObjectId, type NodeId } from '../../shared/ids.js';
import { World } from '../helpers/scheduler-world.js';

/** A finished task pinned to `node` whose only output lost its last copy; what lineage made of it. */
function lose(w: World, node: string): { failed: string[]; rebuilt: number; reran: number } {
  const t = w.task({ scheduling: { node: node as NodeId, soft: false } });
  t.state = 'finished';
  w.gcs.taskTable.set(t.spec.taskId, t);
  const o: ObjectRecord = {
    id: returnObjectId(t.spec.taskId, 0),
    job: w.job,
    state: 'ready',
    size: 8,
    hash: '00'.repeat(32),
    v: null,
    failure: null,
    locations: new Holders([]),
    refs: 1,
    contains: [],
    dependents: null,
    subscribers: null,
    creator: null,
  };
  const seen = { failed: [] as string[], rebuilt: 0, reran: 0 };
  const dir = {
    get: () => undefined,
    setFailedLost: (_o: ObjectRecord, why: string) => seen.failed.push(why),
    setRebuilding: () => seen.rebuilt++,
    free: () => {},
  } as unknown as ObjectDirectory;
  const lineage = new Lineage(w.gcs, dir, { ready: () => seen.reran++, fail: () => {} });
  lineage.objectLost(o, 'its last holder left');
  return seen;
}

describe('lineage of a task pinned to a node gone', () => {
  it("fails the object with the scheduler's reason: a live coordinator's link down past the bound", () => {
    const w = new World();
    w.gcs.nodeExpected = () => false;
    w.gcs.nodeAway = (id) => (id === 'b' ? { ms: 31_000, warnMs: 5000, boundMs: 30_000, why: 'its link has not come back' } : undefined);
    expect(lose(w, 'b')).toEqual({
      failed: [
        "its last holder left; its task work cannot run again: it is pinned (node affinity, not soft) to node b, which is not in the mesh: it is another coordinator's link, down for 31 s while that coordinator lives (its link has not come back); a hard pin waits 30 s for it",
      ],
      rebuilt: 0,
      reran: 0,
    });
  });

  it("fails the object with the scheduler's reason: a coordinator that left the mesh", () => {
    const w = new World();
    w.gcs.nodeGone = (id) => (id === 'b' ? 'it stood for coordinator b (http://b:1), which left the mesh' : undefined);
    expect(lose(w, 'b').failed).toEqual([
      'its last holder left; its task work cannot run again: it is pinned (node affinity, not soft) to node b, which is not in the mesh: it stood for coordinator b (http://b:1), which left the mesh',
    ]);
    // A node gone with no more said: the plain reason.
    expect(lose(new World(), 'n').failed).toEqual([
      'its last holder left; its task work cannot run again: it is pinned (node affinity, not soft) to node n, which is not in the mesh',
    ]);
  });

  it('rebuilds while the pinned node is expected back (a link in its window)', () => {
    const w = new World();
    w.gcs.nodeExpected = (id) => id === 'b';
    const seen = lose(w, 'b');
    expect(seen.failed).toEqual([]);
    expect(seen.rebuilt).toBeGreaterThan(0);
  });
});
