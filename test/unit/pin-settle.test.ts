// Hard pins the scheduler settles each pass (coordinator/scheduler/placement-rules.ts settlePins, issue 14, session
// 23): a pin to a node gone fails, one to a node away (another coordinator's link, down while that coordinator lives)
// is reported for the driver's warning and fails once the mesh's bound has passed; with nodes up or with none at all
// (a pass without nodes stopped at the NO_NODES warning and looked at no pin). White-box, as test/unit/scheduler.
import { describe, expect, it } from 'vitest';
import { World } from '../helpers/scheduler-world.js';
import { newNodeId } from '../../shared/ids.js';

describe('hard pins a pass settles', () => {
  it('hard affinity to a node that is gone fails with no node left at all too (a pass without nodes looked at no pin)', () => {
    const w = new World();
    const b = w.addNode('B', { cpu: 4 });
    w.removeNode(b);
    const [t] = w.submit(1, { scheduling: { node: b.id, soft: false } });
    const [plain] = w.submit(1);
    w.scheduler.run();
    expect(w.unplaceable.map((u) => [u.t, u.why])).toEqual([[t, `it is pinned (node affinity, not soft) to node ${b.id}, which is not in the mesh`]]);
    expect(plain.state).toBe('queued');
    expect(w.scheduler.queuedCount).toBe(1);
  });

  it("hard affinity to a node away (another coordinator's link, down while it lives) is reported each pass, with nodes or without; past the bound it fails", () => {
    for (const withNodes of [true, false]) {
      const w = new World();
      if (withNodes) w.addNode('A', { cpu: 4 });
      const away = newNodeId();
      let expected = true;
      w.gcs.nodeExpected = (id) => id === away && expected;
      w.gcs.nodeAway = (id) => (id === away ? { ms: 31_000, warnMs: 5000, boundMs: 30_000, why: 'its link has not come back' } : undefined);
      const heads: string[] = [];
      w.scheduler.onPinAway = (t) => heads.push(t.spec.taskId);
      const [t] = w.submit(2, { scheduling: { node: away, soft: false } });
      w.scheduler.run();
      expect(heads).toEqual([t.spec.taskId]);
      expect(w.unplaceable).toEqual([]);
      expected = false;
      w.scheduler.run();
      expect(w.unplaceable.map((u) => u.why)).toEqual(
        Array(2).fill(
          `it is pinned (node affinity, not soft) to node ${away}, which is not in the mesh: it is another coordinator's link, down for 31 s while that coordinator lives (its link has not come back); a hard pin waits 30 s for it`,
        ),
      );
      expect(w.scheduler.queuedCount).toBe(0);
    }
  });
});
