// The global scheduler (coordinator/scheduler/): feasible resources first, then
// argument locality, then least load. Spillback and pipelining, queue order and
// policies, the node index and the turns are in scheduler-*.test.ts.
// White-box: an in-memory Gcs, hand-made records, `run()` called directly.
import { describe, expect, it } from 'vitest';
import { fakeSession } from '../helpers/node-record.js';
import { World } from '../helpers/scheduler-world.js';
import { SATURATED_TASKS_PER_CPU } from '../../coordinator/scheduler/default-policy.js';
import type { Arg } from '../../shared/protocol/messages.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('feasibility: a task only goes where its resources exist', () => {
  it('a task needing a GPU goes to the GPU node, never to an idle node without one', () => {
    const w = new World();
    const cpuOnly = w.addNode('cpu-only', { cpu: 8 });
    const gpuNode = w.addNode('gpu', { cpu: 1, gpu: 1 }, 1);
    w.submit(1, { resources: { cpu: 1, gpu: 1 } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['gpu']);
    expect(w.countOn(cpuOnly)).toBe(0);
    expect(gpuNode.inflight.gpu).toBe(1);
  });

  it('GPU tasks wait for the one GPU to free up rather than run on the idle CPU node', () => {
    const w = new World();
    const cpuOnly = w.addNode('cpu-only', { cpu: 8 });
    w.addNode('gpu', { cpu: 4, gpu: 1 });
    const ts = w.submit(3, { resources: { gpu: 1 } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['gpu']);
    expect(w.scheduler.queuedCount).toBe(2);

    w.finish(ts[0]);
    w.scheduler.run();
    expect(w.placements()).toEqual(['gpu', 'gpu']);
    expect(w.assigned[1].task).toBe(ts[1]);
    expect(w.countOn(cpuOnly)).toBe(0);
  });

  it('a task nobody can run stays queued and does not hold back other kinds of task', () => {
    const w = new World();
    w.addNode('a', { cpu: 2 });
    const [gpuTask] = w.submit(1, { resources: { cpu: 1, gpu: 2 } });
    const [cpuTask] = w.submit(1);
    w.scheduler.run();
    expect(w.assigned.map((a) => a.task)).toEqual([cpuTask]);
    expect(gpuTask.state).toBe('queued');
    expect(w.scheduler.queuedCount).toBe(1);
  });

  it('a custom resource counts like any other; asking for 0 of something is no requirement', () => {
    const w = new World();
    w.addNode('plain', { cpu: 4 });
    w.addNode('big-mem', { cpu: 4, mem: 16 });
    w.submit(1, { resources: { cpu: 1, mem: 10 } });
    w.submit(1, { resources: { cpu: 1, gpu: 0 } });
    w.scheduler.run();
    expect(w.assigned[0].node.name).toBe('big-mem');
    expect(w.assigned[1].node.name).toBe('plain'); // least loaded, no gpu needed
  });

  it('with no node at all nothing is placed; a node joining picks up the queue', () => {
    const w = new World();
    w.submit(3);
    w.scheduler.run();
    expect(w.assigned).toHaveLength(0);
    expect(w.scheduler.queuedCount).toBe(3);
    w.addNode('late', { cpu: 4 });
    w.scheduler.run();
    expect(w.placements()).toEqual(['late', 'late', 'late']);
    expect(w.scheduler.queuedCount).toBe(0);
  });
});

describe('locality: a large argument pulls its task to the node that holds it', () => {
  it('a task whose 100 KiB argument is on B runs on B although B is busier', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 3);
    const big = w.addObject(100 * KiB, b.session);
    w.submit(1, { args: [{ r: big }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
    expect(w.countOn(a)).toBe(0);
  });

  it('a task whose 64 MiB argument is on B queues on B past its pipelining depth rather than move the bytes (issue 4)', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 1 }, 2); // unknown function: 2 tasks per CPU, full
    const big = w.addObject(64 * MiB, b.session);
    w.submit(1, { args: [{ r: big }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
    expect(w.gcs.events.at(-1)?.kind).toBe('placed-local');
  });

  it('a task whose argument is on B runs elsewhere when B is saturated, and the event log says so', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 1 }, SATURATED_TASKS_PER_CPU);
    const big = w.addObject(1024 * KiB, b.session);
    w.submit(1, { args: [{ r: big }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['A']);
    const e = w.gcs.events.at(-1)!;
    expect(e.kind).toBe('placed-remote');
    expect(e.message).toMatch(/saturated/);
  });

  it('a small argument (under 64 KiB) does not pull: the least loaded node wins', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 3);
    const small = w.addObject(10 * KiB, b.session);
    w.submit(1, { args: [{ r: small }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['A']);
  });

  it('just over 64 KiB is enough to pull', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 3);
    const arg = w.addObject(64 * KiB + 1, b.session);
    w.submit(1, { args: [{ r: arg }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });

  it('the node with the most argument bytes wins; inline args do not count', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 2);
    const c = w.addNode('C', { cpu: 4 });
    const onA = w.addObject(100 * KiB, a.session);
    const onB1 = w.addObject(80 * KiB, b.session);
    const onB2 = w.addObject(80 * KiB, b.session);
    const onC = w.addObject(40 * KiB, c.session);
    w.submit(1, { args: [{ r: onA }, { r: onB1 }, { r: onB2 }, { r: onC }, { v: new Uint8Array(500 * KiB) }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });

  it('many small arguments on one node add up past the threshold', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 3);
    const args: Arg[] = Array.from({ length: 4 }, () => ({ r: w.addObject(20 * KiB, b.session) }));
    w.submit(1, { args });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });

  it('an argument held by several nodes: the least loaded of them', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 3);
    const c = w.addNode('C', { cpu: 4 }, 1);
    const big = w.addObject(1024 * KiB, b.session, c.session);
    w.submit(1, { args: [{ r: big }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['C']);
  });

  it('an argument held only by a driver (not a node) does not pull', () => {
    const w = new World();
    w.addNode('A', { cpu: 4 }, 2);
    w.addNode('B', { cpu: 4 });
    const big = w.addObject(1024 * KiB, fakeSession('driver'));
    w.submit(1, { args: [{ r: big }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });
});

describe('least loaded otherwise', () => {
  it('load is tasks per CPU: the idlest node by that measure gets the task', () => {
    const w = new World();
    w.addNode('A', { cpu: 2 }, 3); // 1.5
    w.addNode('B', { cpu: 4 }, 2); // 0.5
    w.addNode('C', { cpu: 1 }, 0); // 0
    w.submit(1);
    w.scheduler.run();
    expect(w.placements()).toEqual(['C']);
    w.submit(1);
    w.scheduler.run();
    expect(w.placements()).toEqual(['C', 'B']); // C is at 1.0 now, B at 0.5
  });

  it('a batch fills the nodes evenly in proportion to their CPUs', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 1 });
    const b = w.addNode('B', { cpu: 3 });
    w.submit(4);
    w.scheduler.run();
    expect(w.countOn(a)).toBe(1);
    expect(w.countOn(b)).toBe(3);
  });

  it('on a tie the node that joined first wins', () => {
    const w = new World();
    w.addNode('first', { cpu: 2 });
    w.addNode('second', { cpu: 2 });
    w.submit(1);
    w.scheduler.run();
    expect(w.placements()).toEqual(['first']);
  });

  it('every pick is a least loaded node among those with room', () => {
    const w = new World();
    const nodes = [w.addNode('A', { cpu: 1 }, 1), w.addNode('B', { cpu: 2 }), w.addNode('C', { cpu: 4 }, 5), w.addNode('D', { cpu: 3 })];
    for (let i = 0; i < 12; i++) {
      const t = w.submit(1)[0];
      const loadsWithRoom = nodes.filter((n) => w.scheduler.fits(n, t)).map((n) => n.inflightTasks / n.resources.cpu);
      w.scheduler.run();
      const got = w.assigned[i].node;
      expect((got.inflightTasks - 1) / got.resources.cpu).toBe(Math.min(...loadsWithRoom));
    }
  });

  it('a finished task frees its place', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 1 });
    const ts = w.submit(3);
    w.scheduler.run();
    expect(w.countOn(a)).toBe(2);
    w.finish(ts[0]);
    w.scheduler.run();
    expect(w.countOn(a)).toBe(3);
    expect(w.assigned[2].task).toBe(ts[2]);
  });
});
