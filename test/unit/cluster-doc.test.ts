// The dashboard's live document stays bounded however large the mesh
// (issue 14): every node up to MAX_NODES, past that the busiest MAX_NODES
// and the totals; lost nodes kept a while, a bounded number of them.
// Ranking and totals follow the nodes that changed (membership's change
// feed), so an idle mesh costs no walk.
// White-box: a real Coordinator (in-memory GCS) with hand-made node records;
// a test that changes one marks it changed, as load.ts and membership do.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fakeSession, nodeRecord } from '../helpers/node-record.js';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { ClusterDoc } from '../../coordinator/dashboard/cluster-doc.js';
import { MAX_LOST_NODES, MAX_NODES, type NodeViews } from '../../coordinator/dashboard/node-views.js';
import type { NodeView } from '../../shared/dashboard.js';
import { JobRunner } from '../../coordinator/jobs/runner.js';
import { TaskHistory } from '../../coordinator/dashboard/task-history.js';

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
});

interface World {
  c: Coordinator;
  doc: ClusterDoc;
  add(name: string, inflight?: number, done?: number): NodeRecord;
  /** `n` changed (what load.ts and membership tell the feed). */
  set(n: NodeRecord, o: Partial<NodeRecord>): void;
  /** `n` left (membership.remove). */
  drop(n: NodeRecord): void;
}

function world(watched?: () => boolean): World {
  const co = (c = new Coordinator({ storage: new MemoryStorage() }));
  const doc = new ClusterDoc(co, new JobRunner(co), new TaskHistory(co.gcs), watched);
  const add = (name: string, inflight = 0, done = 0): NodeRecord => {
    const n = nodeRecord(name, { session: fakeSession(name, { ws: {} }), kind: 'browser', resources: { cpu: 2 }, inflightTasks: inflight, tasksDone: done });
    co.gcs.nodeTable.set(n.id, n);
    co.membership.changes.watch(n);
    return n;
  };
  const set = (n: NodeRecord, o: Partial<NodeRecord>) => {
    Object.assign(n, o);
    co.membership.changes.mark(n);
  };
  const drop = (n: NodeRecord) => {
    co.gcs.nodeTable.delete(n.id);
    co.membership.changes.gone(n);
  };
  return { c: co, doc, add, set, drop };
}

const viewsOf = (doc: ClusterDoc) => (doc as unknown as { nodeViews: NodeViews }).nodeViews;

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
    w.set(shownNode, { inflightTasks: 4 });
    for (let i = 0; i < 4; i++) w.doc.sample((now += 200));
    expect(walks).not.toHaveBeenCalled();
    expect(w.doc.nodes.get(shownNode.id)).toMatchObject({ inflight: 4 });
    // The next second's pass counts the changed node again: the totals follow, still no walk.
    w.doc.sample((now += 200));
    expect(walks).not.toHaveBeenCalled();
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 10_000, inflight: 4 });
  });

  it('10,000 nodes: a sample between seconds builds the views of the shown nodes that changed only; the sample of each second refreshes all', () => {
    const w = world();
    const nodes = Array.from({ length: 10_000 }, (_, i) => w.add(`n${i}`, 0, i % 7));
    let now = Date.now();
    w.doc.sample(now);
    const v = viewsOf(w.doc);
    const built = v.built;
    expect(built).toBe(MAX_NODES);
    for (let i = 0; i < 3; i++) w.doc.sample((now += 200));
    expect(v.built).toBe(built);
    // Two shown nodes change: the next sample builds their two views, and shows what changed.
    const shown = nodes.filter((n) => w.doc.nodes.has(n.id));
    w.set(shown[3], { inflightTasks: 2 });
    shown[9].load = { ...shown[9].load, running: 1 };
    w.doc.sample((now += 200));
    expect(v.built - built).toBe(2);
    expect(w.doc.nodes.get(shown[3].id)).toMatchObject({ inflight: 2 });
    expect(w.doc.nodes.get(shown[9].id)).toMatchObject({ running: 1 });
    // The second's sample builds every shown view again (byte counters, objects, trust move without a load change).
    w.doc.sample((now += 200));
    expect(v.built - built).toBe(2 + MAX_NODES);
  });

  it('10,000 idle nodes: a minute of samples looks at no node; a ranking from the changed nodes is the one a walk gives', () => {
    const w = world();
    const nodes = Array.from({ length: 10_000 }, (_, i) => w.add(`n${i}`, 0, i % 1000));
    let now = Date.now();
    w.doc.sample(now);
    const v = viewsOf(w.doc);
    const walks = vi.spyOn(w.c.gcs.nodes, 'values');
    const looked = v.visited;
    for (let i = 0; i < 300; i++) w.doc.sample((now += 200));
    expect(v.visited).toBe(looked);
    expect(walks).not.toHaveBeenCalled();
    // A few nodes change: the pass looks at them only, the shown set and totals are what a walk gives.
    const busy = [nodes[5], nodes[7777], nodes[9999]];
    busy.forEach((n, i) => w.set(n, { inflightTasks: 2 + i }));
    w.set(nodes[42], { tasksDone: 5000 });
    w.doc.sample((now += 1000));
    expect(v.visited - looked).toBe(4);
    expect(walks).not.toHaveBeenCalled();
    const exact = () =>
      nodes
        .filter((n) => w.c.gcs.nodes.has(n.id))
        .sort((a, b) => b.inflightTasks * 1e9 + b.tasksDone - (a.inflightTasks * 1e9 + a.tasksDone))
        .slice(0, MAX_NODES)
        .map((n) => n.inflightTasks * 1e9 + n.tasksDone);
    const shownScores = () =>
      views(w.doc)
        .filter((x) => x.state === 'alive')
        .map((x) => x.inflight * 1e9 + x.tasksDone)
        .sort((a, b) => b - a);
    expect(shownScores()).toEqual(exact());
    for (const n of busy) expect(w.doc.nodes.has(n.id)).toBe(true);
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 10_000, inflight: 2 + 3 + 4 });
    // A shown node falls below the others (its tasks ended): the pass walks, and the next best untouched node is shown.
    w.set(nodes[42], { tasksDone: 0 });
    busy.forEach((n) => w.set(n, { inflightTasks: 0 }));
    w.doc.sample((now += 1000));
    expect(walks).toHaveBeenCalledTimes(1);
    expect(v.walks).toBe(2); // the first pass's and this one
    expect(shownScores()).toEqual(exact());
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 10_000, inflight: 0 });
    // Nodes leave: counted out of the totals at once.
    for (const n of nodes.slice(0, 10)) w.drop(n);
    w.doc.sample((now += 1000));
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 9_990, cpus: 2 * 9_990 });
  });

  it('a node that becomes busy enters the view; one that leaves is shown lost, and at most MAX_LOST_NODES of those', () => {
    const w = world();
    const nodes = Array.from({ length: 1000 }, (_, i) => w.add(`n${i}`));
    let now = Date.now();
    w.doc.sample(now);
    const late = nodes[999];
    expect(w.doc.nodes.has(late.id)).toBe(false); // idle, joined last: not among the shown
    w.set(late, { inflightTasks: 5 });
    // Ranked again within a second (the pass over every node runs once a second).
    w.doc.sample((now += 1000));
    expect(w.doc.nodes.get(late.id)).toMatchObject({ name: 'n999', inflight: 5, state: 'alive' });
    // 150 shown nodes leave at once: they show as lost at the next sample.
    const leaving = [...w.doc.nodes.keys()].slice(0, 150);
    for (const id of leaving) w.drop(w.c.gcs.nodes.get(id as never)!);
    w.doc.sample((now += 200));
    const lost = views(w.doc).filter((v) => v.state === 'lost');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.length).toBeLessThanOrEqual(MAX_LOST_NODES);
    expect(w.doc.nodes.size).toBeLessThanOrEqual(MAX_NODES + MAX_LOST_NODES);
  });

  it('with no dashboard connected, ticks keep the throughput ring and totals from the changed nodes only; the first sample after is whole', () => {
    let watching = false;
    const w = world(() => watching);
    const nodes = Array.from({ length: 10_000 }, (_, i) => w.add(`n${i}`, 0, i % 1000));
    let now = Date.now();
    const v = viewsOf(w.doc);
    const built = v.built;
    w.doc.tick(now);
    // The first look counts every node once (they predate it), 2,000 a tick; no view, no ranking, no walk.
    expect(v.visited).toBe(2_000);
    expect([w.doc.samples, w.doc.unwatchedTicks, v.walks, v.built - built, w.doc.nodes.size]).toEqual([0, 1, 0, 0, 0]);
    const walks = vi.spyOn(w.c.gcs.nodes, 'values');
    // A minute of 200 ms ticks: the rest of the first count, then the nodes that changed (3 of them, once).
    nodes[10].load = { running: 2, queued: 0, storeBytes: 0 };
    w.set(nodes[10], { inflightTasks: 3 });
    w.set(nodes[20], { inflightTasks: 4 });
    w.set(nodes[30], { tasksDone: 99_999 });
    for (let i = 0; i < 300; i++) w.doc.tick((now += 200));
    expect(v.visited).toBe(10_003);
    expect(walks).not.toHaveBeenCalled();
    expect(w.doc.unwatchedTicks).toBe(61);
    expect([w.doc.samples, v.built - built, w.doc.nodes.size]).toEqual([0, 0, 0]);
    // The throughput ring and the counts are kept (a dashboard that connects sees the last two minutes).
    expect(w.doc.series.size).toBe(61);
    expect(w.doc.meta.get('counts')).toMatchObject({ running: 2, assigned: 7 - 2 });
    // A dashboard connects: the sample walks once and shows what changed while nobody looked.
    watching = true;
    w.doc.tick((now += 200));
    expect(w.doc.samples).toBe(1);
    expect(v.walks).toBe(1);
    for (const n of [nodes[10], nodes[20], nodes[30]]) expect(w.doc.nodes.has(n.id)).toBe(true);
    expect(w.doc.nodes.size).toBe(MAX_NODES);
    expect(w.doc.meta.get('nodeSummary')).toMatchObject({ alive: 10_000, inflight: 7, running: 2 });
    // Then samples follow the change feed again: no walk.
    w.set(nodes[40], { inflightTasks: 9 });
    w.doc.tick((now += 1000));
    expect(v.walks).toBe(1);
    expect(w.doc.nodes.get(nodes[40].id)).toMatchObject({ inflight: 9 });
  });
});
