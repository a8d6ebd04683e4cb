// Packing (coordinator/scheduler/packing.ts, issue 14): in a mesh of more than
// PACK_ABOVE nodes, a burst of plain tasks fills a node already given work up
// to half of what its depth allows before the next node is touched, so a burst
// of short tasks touches few nodes (few frames, each of many tasks), while
// long and unmeasured tasks (depth 1 or 2 per CPU) still reach every node.
// Spread, affinity and locality place as they did.
import { describe, expect, it } from 'vitest';
import { World } from '../helpers/scheduler-world.js';
import type { TaskRecord } from '../../coordinator/gcs/tables.js';
import { PACK_ABOVE, PACK_THRESHOLD } from '../../coordinator/scheduler/packing.js';

const MESH = 1000;

function mesh(w: World, count = MESH, cpu = 1) {
  return Array.from({ length: count }, (_, i) => w.addNode(`n${i}`, { cpu }));
}

describe('packing in a mesh of more than PACK_ABOVE nodes', () => {
  it('a burst of short tasks touches few nodes, each filled to half its depth, in join order', () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 }); // depth 64
    const nodes = mesh(w);
    w.submit(2000, { fn });
    w.scheduler.run();
    expect(w.assigned).toHaveLength(2000);
    const half = PACK_THRESHOLD * 64;
    const touched = new Set(w.assigned.map((a) => a.node));
    expect(touched.size).toBe(Math.ceil(2000 / half));
    expect([...touched]).toEqual(nodes.slice(0, touched.size));
    for (const n of touched) expect(n.inflightTasks).toBeLessThanOrEqual(half);
    expect(w.scheduler.packing.filled).toBe(2000 - touched.size);
  });

  it('a burst of long tasks still reaches every node, one each; the rest waits for a CPU and goes where one frees', () => {
    const w = new World();
    const fn = w.addFunction('long()', { ewmaMs: 500, runs: 100 }); // depth 1
    const nodes = mesh(w);
    w.submit(MESH, { fn });
    w.scheduler.run();
    expect(new Set(w.assigned.map((a) => a.node)).size).toBe(MESH);
    // Nodes are full for a long function (one per CPU): the rest waits for a CPU.
    w.submit(10, { fn });
    w.scheduler.run();
    expect(w.assigned).toHaveLength(MESH);
    w.finish(w.assigned[500].task);
    w.scheduler.run();
    expect(w.assigned.at(-1)!.node).toBe(nodes[500]);
    expect(w.scheduler.packing.filled).toBe(0);
  });

  it('an unmeasured function (2 per CPU) is not packed past one task per CPU: it may be long', () => {
    const w = new World();
    mesh(w, MESH, 2);
    w.submit(2 * MESH, {});
    w.scheduler.run();
    // Two per 2-CPU node (one per CPU) before the next node: every node gets its two.
    for (const n of w.gcs.nodes.values()) expect(n.inflightTasks).toBe(2);
    expect(w.assigned[0].node).toBe(w.assigned[1].node);
  });

  it('a node that finished its tasks is filled again before an idle node is touched', () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    const nodes = mesh(w);
    const first = w.submit(10, { fn });
    w.scheduler.run();
    for (const t of first) w.finish(t);
    w.submit(10, { fn });
    w.scheduler.run();
    expect(new Set(w.assigned.map((a) => a.node))).toEqual(new Set([nodes[0]]));
  });

  it('spread, affinity and a large argument are not packed', () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    const nodes = mesh(w);
    const plain = w.submit(3, { fn });
    const spread = w.submit(3, { fn, scheduling: 'spread' });
    const [pinned] = w.submit(1, { fn, scheduling: { node: nodes[900].id, soft: false } });
    const [local] = w.submit(1, { fn, args: [{ r: w.addObject(100 * 1024, nodes[700].session) }] });
    w.scheduler.run();
    const on = (t: TaskRecord) => w.assigned.find((a) => a.task === t)!.node;
    expect(new Set(plain.map(on)).size).toBe(1);
    // Spread goes round robin from its cursor: a node each.
    expect(new Set(spread.map(on)).size).toBe(3);
    expect(on(pinned)).toBe(nodes[900]);
    expect(on(local)).toBe(nodes[700]);
  });

  it(`a mesh of PACK_ABOVE (${PACK_ABOVE}) nodes or fewer is not packed: least loaded as before`, () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    const nodes = mesh(w, PACK_ABOVE);
    w.submit(2 * PACK_ABOVE, { fn });
    w.scheduler.run();
    expect(w.assigned.map((a) => a.node)).toEqual([...nodes, ...nodes]);
    expect(w.scheduler.packing.filled).toBe(0);
  });

  it('a mesh of several coordinators packs when all their nodes together are more than PACK_ABOVE (Scheduler.linkedNodes)', () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    // 150 of our own, 150 behind another coordinator's link: one mesh of 300.
    const nodes = mesh(w, 150);
    w.scheduler.linkedNodes = 150;
    w.submit(2000, { fn });
    w.scheduler.run();
    const half = PACK_THRESHOLD * 64;
    const touched = new Set(w.assigned.map((a) => a.node));
    expect(touched.size).toBe(Math.ceil(2000 / half));
    expect([...touched]).toEqual(nodes.slice(0, touched.size));
  });

  it("another coordinator's link gets plain tasks while its tasks per CPU are no more than our nodes' average, though some of ours are idle", () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    // Mid-job: the link (150 CPUs of the other coordinator's nodes) holds 50 tasks; half of our 150 nodes hold 2, half none (they drain fast).
    const link = w.addNode('link', { cpu: 150 }, 50);
    link.link = 'c0ffee00c0ffee00';
    // Filed as a link (a link's record says so from its join).
    w.scheduler.removeNode(link);
    w.scheduler.addNode(link);
    const nodes = Array.from({ length: 150 }, (_, i) => w.addNode(`n${i}`, { cpu: 1 }, i % 2 === 0 ? 2 : 0));
    w.scheduler.linkedNodes = 150;
    // What the coordinator reads from membership's running totals: 1 task per CPU on average.
    w.scheduler.ownLoadPerCpu = () => nodes.reduce((a, n) => a + n.inflightTasks, 0) / nodes.length;
    const onLink = () => w.assigned.filter((a) => a.node === link).length;
    w.submit(100, { fn });
    w.scheduler.run();
    // The link holds a third of a task per CPU, ours one: it takes the next 100 (up to our average: 150). Against the least
    // loaded node of ours (an idle one) it came last: the other coordinator ran 98 of a job of 20,000 (session 17).
    expect(onLink()).toBe(100);
    // At our average: the next ones alternate, the link never past our average by more than its last task.
    w.submit(100, { fn });
    w.scheduler.run();
    expect(onLink()).toBeGreaterThan(100);
    expect(onLink()).toBeLessThan(200);
    expect(link.inflightTasks / 150).toBeLessThanOrEqual(w.scheduler.ownLoadPerCpu() + 1 / 150);
    // A link that holds more per CPU than ours (it lags): nothing more there while ours have room.
    link.resources.cpu = 10;
    w.scheduler.touch(link);
    const before = w.assigned.length;
    w.submit(100, { fn });
    w.scheduler.run();
    expect(w.assigned.slice(before).filter((a) => a.node === link)).toHaveLength(0);
  });

  it("another coordinator's link is never the node packed onto: a burst shares out by load per CPU", () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    const link = w.addNode('link', { cpu: 150 });
    link.link = 'c0ffee00c0ffee00';
    // Filed as a link (a link's record says so from its join).
    w.scheduler.removeNode(link);
    w.scheduler.addNode(link);
    const nodes = mesh(w, 150);
    w.scheduler.linkedNodes = 150;
    w.scheduler.ownLoadPerCpu = () => nodes.reduce((a, n) => a + n.inflightTasks, 0) / nodes.length;
    w.submit(9000, { fn });
    w.scheduler.run();
    const onLink = w.assigned.filter((a) => a.node === link).length;
    expect(onLink).toBeGreaterThan(9000 * 0.4);
    expect(onLink).toBeLessThan(9000 * 0.6);
    expect(link.inflightTasks / 150).toBeLessThanOrEqual(w.scheduler.ownLoadPerCpu() + 1 / 150);
    // Ours packed: each filled to half its depth before the next is touched.
    const half = PACK_THRESHOLD * 64;
    for (const n of nodes) expect(n.inflightTasks).toBeLessThanOrEqual(half);
    expect(nodes.filter((n) => n.inflightTasks > 0).length).toBe(Math.ceil((9000 - onLink) / half));
  });

  it('a node that left is never packed onto', () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 100 });
    const nodes = mesh(w);
    w.submit(1, { fn });
    w.scheduler.run();
    expect(w.assigned[0].node).toBe(nodes[0]);
    w.removeNode(nodes[0]);
    w.submit(5, { fn });
    w.scheduler.run();
    expect(w.placements().slice(1)).toEqual(['n1', 'n1', 'n1', 'n1', 'n1']);
  });
});
