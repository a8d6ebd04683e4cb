// The dashboard's live document stays bounded however large the mesh
// (issue 14): every node up to MAX_NODES, past that the busiest MAX_NODES
// and the totals; lost nodes kept a while, a bounded number of them.
// White-box: a real Coordinator (in-memory GCS) with hand-made node records.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeSession, nodeRecord } from '../helpers/node-record.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { ClusterDoc } from '../../coordinator/dashboard/cluster-doc.js';
import { MAX_LOST_NODES, MAX_NODES } from '../../coordinator/dashboard/node-views.js';
import type { NodeView } from '../../shared/dashboard.js';
import { JobRunner } from '../../coordinator/jobs/runner.js';
import { TaskHistory } from '../../coordinator/dashboard/task-history.js';

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
});

function world(): { c: Coordinator; doc: ClusterDoc; add(name: string, inflight?: number, done?: number): NodeRecord } {
  const co = (c = new Coordinator({ storage: new MemoryStorage() }));
  const doc = new ClusterDoc(co, new JobRunner(co), new TaskHistory(co.gcs));
  const add = (name: string, inflight = 0, done = 0): NodeRecord => {
    const n = nodeRecord(name, { session: fakeSession(name, { ws: {} }), kind: 'browser', resources: { cpu: 2 }, inflightTasks: inflight, tasksDone: done });
    co.gcs.nodeTable.set(n.id, n);
    return n;
  };
  return { c: co, doc, add };
}

const views = (doc: ClusterDoc) => Object.values(doc.nodes.toJSON()) as NodeView[];

describe('the live document at 10,000 nodes', () => {
  it('a small mesh shows every node', () => {
    const w = world();
    for (let i = 0; i < 20; i++) w.add(`n${i}`);
    w.doc.sample();
    expect(w.doc.nodes.size).toBe(20);
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 20, cpus: 40, shown: 20 });
  });

  it('10,000 nodes: the busiest MAX_NODES are shown, the totals count all of them', () => {
    const w = world();
    const busy: NodeRecord[] = [];
    for (let i = 0; i < 10_000; i++) {
      const n = w.add(`n${i}`, 0, i % 7);
      if (i % 50 === 0) {
        n.inflightTasks = 3;
        busy.push(n);
      }
    }
    w.doc.sample();
    expect(w.doc.nodes.size).toBe(MAX_NODES);
    const shown = new Set(w.doc.nodes.keys());
    for (const n of busy) expect(shown.has(n.id)).toBe(true); // all 200 with tasks in flight
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 10_000, cpus: 20_000, inflight: 600, shown: MAX_NODES });
    // The whole document stays small: what a fresh dashboard downloads.
    expect(w.doc.encodedSize()).toBeLessThan(200_000);
  });

  it('10,000 nodes: a sample between the once-a-second ranking passes visits the shown nodes only, and still updates them', () => {
    const w = world();
    const nodes = Array.from({ length: 10_000 }, (_, i) => w.add(`n${i}`, 0, i % 7));
    let now = Date.now();
    w.doc.sample(now);
    const walks = vi.spyOn(w.c.gcs.nodes, 'values');
    const shownNode = nodes.find((n) => w.doc.nodes.has(n.id))!;
    shownNode.inflightTasks = 4;
    for (let i = 0; i < 4; i++) w.doc.sample((now += 200));
    expect(walks).not.toHaveBeenCalled();
    expect(w.doc.nodes.get(shownNode.id)).toMatchObject({ inflight: 4 });
    // The next second's pass walks them all once and the totals follow.
    w.doc.sample((now += 200));
    expect(walks).toHaveBeenCalledTimes(1);
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 10_000, inflight: 4 });
  });

  it('a node that becomes busy enters the view; one that leaves is shown lost, and at most MAX_LOST_NODES of those', () => {
    const w = world();
    const nodes = Array.from({ length: 1000 }, (_, i) => w.add(`n${i}`));
    let now = Date.now();
    w.doc.sample(now);
    const late = nodes[999];
    expect(w.doc.nodes.has(late.id)).toBe(false); // idle, joined last: not among the shown
    late.inflightTasks = 5;
    // Ranked again within a second (the pass over every node runs once a second).
    w.doc.sample((now += 1000));
    expect(w.doc.nodes.get(late.id)).toMatchObject({ name: 'n999', inflight: 5, state: 'alive' });
    // 150 shown nodes leave at once: they show as lost at the next sample.
    const leaving = [...w.doc.nodes.keys()].slice(0, 150);
    for (const id of leaving) w.c.gcs.nodeTable.delete(id as never);
    w.doc.sample((now += 200));
    const lost = views(w.doc).filter((v) => v.state === 'lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.length).toBeLessThanOrEqual(MAX_LOST_NODES);
    expect(w.doc.nodes.size).toBeLessThanOrEqual(MAX_NODES + MAX_LOST_NODES);
  });
});
