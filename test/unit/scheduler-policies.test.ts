// The global scheduler: queue order (retries first, cancels skipped, the queued
// count), the spread policy and node affinity (hard, soft, spill).
// White-box: an in-memory Gcs, hand-made records, `run()` called directly.
import { describe, expect, it } from 'vitest';
import { World } from '../helpers/scheduler-world.js';
import { Scheduler } from '../../coordinator/scheduler/scheduler.js';
import { newNodeId } from '../../shared/ids.js';
import { unplace } from '../../coordinator/nodes/load.js';

describe('queue order', () => {
  it('tasks of one kind are placed in the order they were queued', () => {
    const w = new World();
    w.addNode('A', { cpu: 16 });
    const ts = w.submit(10);
    w.scheduler.run();
    expect(w.assigned.map((a) => a.task)).toEqual(ts);
  });

  it('a task sent back to the front (its node was lost) goes before newer ones', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 1 }, 1); // room for one more
    const ts = w.submit(2);
    const retried = w.task();
    w.scheduler.enqueue(retried, true);
    w.scheduler.run();
    expect(w.assigned.map((x) => x.task)).toEqual([retried]);
    expect(w.countOn(a)).toBe(1);
    w.finish(retried);
    w.scheduler.run();
    expect(w.assigned[1].task).toBe(ts[0]);
  });

  it('tasks queued again one by one leave oldest submitted first, ahead of first-time ones', () => {
    const w = new World();
    const fresh = w.submit(2);
    const back = [w.task(), w.task(), w.task(), w.task()];
    [1_000, 1_001, 1_001, 1_002].forEach((at, i) => (back[i].submittedAt = at));
    // Given back one by one (a busy node's refusals, a lost node's tasks): two of one millisecond keep their order.
    for (const t of [back[1], back[2], back[3], back[0]]) w.scheduler.enqueue(t, true);
    expect(w.scheduler.queuedCount).toBe(6);
    w.addNode('A', { cpu: 16 });
    w.scheduler.run();
    expect(w.assigned.map((a) => a.task)).toEqual([...back, ...fresh]);
  });

  it('a task cancelled while queued is never placed', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const ts = w.submit(3);
    ts[1].state = 'cancelled';
    w.scheduler.run();
    expect(w.assigned.map((a) => a.task)).toEqual([ts[0], ts[2]]);
    expect(w.scheduler.queuedCount).toBe(0);
  });

  // queuedCount is kept as tasks come and go (issue 14), not counted by a walk: a task that
  // ends while queued is counted out when it ends (TaskManager.unplace calls left), even while
  // no pass runs (no node connected) to walk past its entry.
  it('a task cancelled while queued no longer counts as queued', () => {
    const w = new World();
    const ts = w.submit(3);
    w.scheduler.left(ts[1]);
    ts[1].state = 'cancelled';
    expect(w.scheduler.queuedCount).toBe(2);
    w.scheduler.run();
    expect(w.scheduler.queuedCount).toBe(2);
    w.addNode('A', { cpu: 4 });
    w.scheduler.run();
    expect(w.assigned.map((a) => a.task)).toEqual([ts[0], ts[2]]);
    expect(w.scheduler.queuedCount).toBe(0);
  });

  it('a task handed back and queued again counts once, and not after it is placed', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 1 });
    w.submit(4);
    w.scheduler.run();
    const placed = w.assigned.length;
    expect(w.scheduler.queuedCount).toBe(4 - placed);
    const back = w.assigned[0].task;
    unplace(a, back);
    back.node = null;
    w.scheduler.enqueue(back, true);
    expect(w.scheduler.queuedCount).toBe(4 - placed + 1);
    w.scheduler.run();
    expect(w.assigned[placed].task).toBe(back);
    expect(w.scheduler.queuedCount).toBe(4 - placed);
  });

  it('the count is a flag on each task record, not a set of records (session 17)', () => {
    const w = new World();
    const ts = w.submit(3);
    expect(ts.map((t) => t.waiting)).toEqual([true, true, true]);
    w.scheduler.enqueue(ts[0]); // queued twice: counted once
    expect(w.scheduler.queuedCount).toBe(3);
    w.scheduler.left(ts[2]);
    expect(ts[2].waiting).toBe(false);
    expect(w.scheduler.queuedCount).toBe(2);
    ts[2].state = 'cancelled';
    w.addNode('A', { cpu: 4 });
    w.scheduler.run();
    expect(ts.map((t) => t.waiting)).toEqual([false, false, false]);
    expect(w.scheduler.queuedCount).toBe(0);
  });
});

describe('spread: round robin over the nodes that can take the task', () => {
  it('a batch of spread tasks visits every node in turn, ignoring load', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    w.addNode('B', { cpu: 4 }, 5);
    w.addNode('C', { cpu: 4 });
    w.submit(9, { scheduling: 'spread' });
    w.scheduler.run();
    const p = w.placements();
    expect(p).toHaveLength(9);
    // The cursor is shared across calls, so the start may be any node; the cycle is fixed.
    expect(new Set(p.slice(0, 3))).toEqual(new Set(['A', 'B', 'C']));
    for (let i = 3; i < 9; i++) expect(p[i]).toBe(p[i - 3]);
  });

  it('spread skips a node with no room and one that lacks the resources', () => {
    const w = new World();
    w.addNode('A', { cpu: 4, gpu: 1 });
    w.addNode('full', { cpu: 1, gpu: 1 }, 2);
    w.addNode('no-gpu', { cpu: 8 });
    w.addNode('D', { cpu: 4, gpu: 4 });
    w.submit(1, { resources: { cpu: 1, gpu: 1 }, scheduling: 'spread' });
    w.submit(1, { resources: { cpu: 1, gpu: 1 }, scheduling: 'spread' });
    w.scheduler.run();
    expect(new Set(w.placements())).toEqual(new Set(['A', 'D']));
  });

  it('spread goes on round-robin across runs', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    w.addNode('B', { cpu: 4 });
    const p: string[] = [];
    for (let i = 0; i < 4; i++) {
      w.submit(1, { scheduling: 'spread' });
      w.scheduler.run();
      p.push(w.assigned[i].node.name);
    }
    expect(p[0]).not.toBe(p[1]);
    expect(p[2]).toBe(p[0]);
    expect(p[3]).toBe(p[1]);
  });
});

describe('node affinity', () => {
  it('hard affinity runs on the named node even when it is the busiest', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 6);
    w.submit(1, { scheduling: { node: b.id, soft: false } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });

  it('hard affinity to a node that is gone: the task is reported unplaceable, it does not run elsewhere', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 });
    w.removeNode(b);
    const [t] = w.submit(1, { scheduling: { node: b.id, soft: false } });
    w.scheduler.run();
    expect(w.assigned).toHaveLength(0);
    expect(w.unplaceable.map((u) => u.t)).toEqual([t]);
    expect(w.unplaceable[0].why).toContain(b.id);
    expect(w.scheduler.queuedCount).toBe(0);
  });

  it('soft affinity to a node that is gone runs on the least loaded node instead', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 }, 3);
    w.addNode('C', { cpu: 4 }, 1);
    const [t] = w.submit(1, { scheduling: { node: newNodeId(), soft: true } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['C']);
    expect(t.state).toBe('assigned');
  });

  it('soft affinity to a node without the resources runs elsewhere; hard affinity waits', () => {
    const w = new World();
    const noGpu = w.addNode('no-gpu', { cpu: 4 });
    w.addNode('gpu', { cpu: 4, gpu: 1 });
    w.submit(1, { resources: { gpu: 1 }, scheduling: { node: noGpu.id, soft: true } });
    const [hard] = w.submit(1, { resources: { gpu: 1 }, scheduling: { node: noGpu.id, soft: false } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['gpu']);
    expect(hard.state).toBe('queued');
  });

  it('affinity to a node whose socket closed (still a member, out of the index): hard waits, soft runs elsewhere', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 }, 3);
    const b = w.addNode('B', { cpu: 4 });
    w.scheduler.removeNode(b); // coordinator.ts onClose: its last frames are still being handled
    const [soft] = w.submit(1, { scheduling: { node: b.id, soft: true } });
    const [hard] = w.submit(1, { scheduling: { node: b.id, soft: false } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['A']);
    expect(soft.state).toBe('assigned');
    expect(hard.state).toBe('queued');
    expect(w.countOn(b)).toBe(0);
  });

  it('affinity to a node that is merely full waits for it, soft or hard', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 1 }, 2);
    const [soft] = w.submit(1, { scheduling: { node: b.id, soft: true } });
    const [hard] = w.submit(1, { scheduling: { node: b.id, soft: false } });
    w.scheduler.run();
    expect(w.assigned).toHaveLength(0);
    expect([soft.state, hard.state]).toEqual(['queued', 'queued']);
    // One of B's tasks ends: one of the two waiting tasks goes there, never to A.
    Scheduler.charge(b, w.task(), -1);
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });

  it("soft affinity with spill (Ray's _spill_on_unavailable) to a node that is merely full runs elsewhere; without spill it waits", () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 1 }, 2);
    const [spill] = w.submit(1, { scheduling: { node: b.id, soft: true, spill: true } });
    const [soft] = w.submit(1, { scheduling: { node: b.id, soft: true } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['A']);
    expect([spill.state, soft.state]).toEqual(['assigned', 'queued']);
    // With room on B, a spilling affinity goes to B as any affinity does.
    Scheduler.charge(b, w.task(), -1);
    Scheduler.charge(b, w.task(), -1);
    const [later] = w.submit(1, { scheduling: { node: b.id, soft: true, spill: true } });
    w.scheduler.run();
    expect(later.node).toBe(b);
  });
});
