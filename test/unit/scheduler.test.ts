// The global scheduler (coordinator/scheduler/): feasible resources first, then
// argument locality, then least load; spread and node-affinity policies; and
// how deep a node's queue is filled (pipelining) for short functions.
// White-box: an in-memory Gcs, hand-made records, `run()` called directly.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fakeSession } from '../helpers/node-record.js';
import { World } from '../helpers/scheduler-world.js';
import type { NodeRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { PASS_CHECK, Scheduler, TURN_NODES } from '../../coordinator/scheduler/scheduler.js';
import { SATURATED_TASKS_PER_CPU, SPILL_MAX_MS } from '../../coordinator/scheduler/default-policy.js';
import { LINK_BYTES_PER_MS } from '../../shared/transfer/link-rates.js';
import { newNodeId } from '../../shared/ids.js';
import type { Arg } from '../../shared/protocol/messages.js';
import { decodeFrame, Outbox } from '../../shared/protocol/frame.js';
import { SessionFlushes } from '../../coordinator/flush-turns.js';

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

// Issue 17: Ray prefers *available* nodes that hold a task's arguments; a holder
// that is busy while another node has fewer tasks ahead loses the task
// (spillback) when moving the bytes costs less than the wait: the function's
// measured run time, or for a function not measured yet, at most 4 MiB to move.
describe('spillback: a busy holder does not keep every task while another node idles', () => {
  it('8 tasks with a 1 MiB argument on A (2 CPUs), B (2 CPUs) idle: both nodes run 4', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 2 });
    const b = w.addNode('B', { cpu: 2 });
    const weights = w.addObject(1 * MiB, a.session);
    w.submit(8, { args: [{ r: weights }] });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(4);
    expect(w.countOn(b)).toBe(4);
    // A first while it has a CPU free, then B while it has fewer tasks ahead.
    expect(w.placements()).toEqual(['A', 'A', 'B', 'B', 'A', 'A', 'B', 'B']);
    const moved = w.gcs.events.filter((e) => e.kind === 'placed-remote');
    expect(moved).toHaveLength(4);
    for (const e of moved) expect(e.message).toMatch(/is busy/);
  });

  it('a measured function of 1 ms: its 1 MiB does not move, the wait is shorter than the move', () => {
    const w = new World();
    const fn = w.addFunction('function grad(w) { return w; }', { ewmaMs: 1, runs: 10 });
    const a = w.addNode('A', { cpu: 2 });
    w.addNode('B', { cpu: 2 });
    w.submit(8, { fn, args: [{ r: w.addObject(1 * MiB, a.session) }] });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(8);
  });

  it('a measured function of 200 ms (1 per CPU): B takes what A cannot run at once, the rest waits for a free CPU', () => {
    const w = new World();
    const fn = w.addFunction('function grad(w) { return w; }', { ewmaMs: 200, runs: 10 });
    const a = w.addNode('A', { cpu: 2 });
    const b = w.addNode('B', { cpu: 2 });
    const ts = w.submit(8, { fn, args: [{ r: w.addObject(1 * MiB, a.session) }] });
    w.scheduler.run();
    // A's own CPUs, B's, then one more on each (a wave ahead on both); not 16 per CPU queued on A.
    expect(w.placements()).toEqual(['A', 'A', 'B', 'B', 'A', 'A']);
    expect(w.scheduler.queuedCount).toBe(2);
    // B's CPUs free first: the waiting tasks go there.
    for (const t of ts.filter((x) => x.node === b)) w.finish(t);
    w.scheduler.run();
    expect([w.countOn(a), w.countOn(b)]).toEqual([4, 4]);
  });

  it('a 100 MiB argument on A stays there, queued past its depth, although B is idle', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 2 });
    const b = w.addNode('B', { cpu: 2 });
    const big = w.addObject(100 * MiB, a.session);
    w.submit(8, { args: [{ r: big }] });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(8);
    expect(w.countOn(b)).toBe(0);
    expect(w.gcs.events.filter((e) => e.kind === 'placed-remote')).toHaveLength(0);
  });

  it('a function not measured yet: a move just over SPILL_MAX_MS at the rate of the link kind stays, one at it goes (edge-edge TCP, tab-edge WebSocket, tab-tab WebRTC, relay)', () => {
    const cases: Array<[NodeRecord['kind'], NodeRecord['kind'], boolean, keyof typeof LINK_BYTES_PER_MS]> = [
      ['edge', 'edge', false, 'tcp'],
      ['browser', 'edge', false, 'ws'],
      ['edge', 'browser', false, 'ws'],
      ['browser', 'browser', false, 'webrtc'],
      ['edge', 'edge', true, 'relay'],
    ];
    for (const [from, to, peerless, kind] of cases) {
      const max = Math.floor(SPILL_MAX_MS * LINK_BYTES_PER_MS[kind]);
      for (const [size, onB] of [
        [max + 1, 0],
        [max, 1],
      ]) {
        const w = new World();
        const a = w.addNode('A', { cpu: 1 }, 1);
        const b = w.addNode('B', { cpu: 1 });
        a.kind = from;
        b.kind = to;
        (b.session as { peerless: boolean }).peerless = peerless;
        w.submit(1, { args: [{ r: w.addObject(size, a.session) }] });
        w.scheduler.run();
        expect(w.countOn(b), `${from} -> ${to}${peerless ? ' (relay)' : ''}: ${size} bytes`).toBe(onB);
      }
    }
    // Between tabs the same 4 MiB stays that moves between edge nodes.
    expect(Math.floor(SPILL_MAX_MS * LINK_BYTES_PER_MS.webrtc)).toBeLessThan(4 * MiB);
    expect(Math.floor(SPILL_MAX_MS * LINK_BYTES_PER_MS.tcp)).toBeGreaterThan(4 * MiB);
  });

  it('a measured function of 100 ms reading 1 MiB: it moves between edge nodes (10 ms over TCP), not between tabs (200 ms over WebRTC)', () => {
    for (const [kind, onB] of [
      ['edge', 1],
      ['browser', 0],
    ] as const) {
      const w = new World();
      const fn = w.addFunction('function grad100(w) { return w; }', { ewmaMs: 100, runs: 10 });
      const a = w.addNode('A', { cpu: 1 }, 1);
      const b = w.addNode('B', { cpu: 1 });
      a.kind = b.kind = kind;
      w.submit(1, { fn, args: [{ r: w.addObject(1 * MiB, a.session) }] });
      w.scheduler.run();
      expect(w.countOn(b), kind).toBe(onB);
    }
  });

  it('a large argument moves when the measured wait on its busy holder is longer than the transfer', () => {
    const size = 100 * MiB;
    const transferMs = size / LINK_BYTES_PER_MS.tcp;
    for (const [ewmaMs, onB] of [
      [transferMs / 2 - 1, 0], // two tasks ahead per CPU: a wait shorter than the transfer
      [transferMs / 2 + 1, 1],
    ]) {
      const w = new World();
      const fn = w.addFunction(`function long${ewmaMs}(x) { return x; }`, { ewmaMs, runs: 5 });
      const a = w.addNode('A', { cpu: 1 }, 2);
      const b = w.addNode('B', { cpu: 1 });
      w.submit(1, { fn, args: [{ r: w.addObject(size, a.session) }] });
      w.scheduler.run();
      expect(w.countOn(b), `${ewmaMs} ms a task`).toBe(onB);
    }
  });

  it('bytes the other node already holds count: only the rest must move', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 1 }, 1);
    const b = w.addNode('B', { cpu: 1 });
    const onBoth = w.addObject(30 * MiB, a.session, b.session);
    const onA = w.addObject(2 * MiB, a.session);
    w.submit(1, { args: [{ r: onBoth }, { r: onA }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['B']);
  });

  it('no node with fewer tasks ahead: the task queues on its holder', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 2 }, 2);
    w.addNode('B', { cpu: 2 }, 3);
    const weights = w.addObject(1 * MiB, a.session);
    w.submit(1, { args: [{ r: weights }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['A']);
    expect(w.gcs.events.at(-1)?.kind).toBe('placed-local');
  });

  it('in a mesh of 10,000 nodes the spill looks at the holder and the top of the index, not at every node (issue 14)', () => {
    const w = new World();
    const nodes = Array.from({ length: 10_000 }, (_, i) => w.addNode(`n${i}`, { cpu: 2 }, 2));
    const idle = nodes[7777];
    Scheduler.charge(idle, w.task(), -1);
    Scheduler.charge(idle, w.task(), -1);
    const weights = w.addObject(1 * MiB, nodes[12].session);
    const fits = vi.spyOn(w.scheduler, 'fits');
    w.submit(1, { args: [{ r: weights }] });
    w.scheduler.run();
    expect(w.placements()).toEqual(['n7777']);
    expect(fits.mock.calls.length).toBeLessThanOrEqual(4);
  });

  it('affinity and spread ignore it: hard and soft affinity to the busy holder stay there, spread keeps its turn', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 2 }, 2);
    w.addNode('B', { cpu: 2 });
    const weights = w.addObject(1 * MiB, a.session);
    w.submit(1, { args: [{ r: weights }], scheduling: { node: a.id, soft: false } });
    w.submit(1, { args: [{ r: weights }], scheduling: { node: a.id, soft: true } });
    w.scheduler.run();
    expect(w.placements()).toEqual(['A', 'A']);
    const s = new World();
    const sa = s.addNode('A', { cpu: 2 }, 2);
    s.addNode('B', { cpu: 2 });
    s.submit(4, { args: [{ r: s.addObject(1 * MiB, sa.session) }], scheduling: 'spread' });
    s.scheduler.run();
    expect(s.placements()).toEqual(['A', 'B', 'A', 'B']);
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
    a.tasks.delete(back);
    Scheduler.charge(a, back, -1);
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

describe('pipelining: how many tasks per CPU a node is sent', () => {
  it('an unmeasured function gets 2 per CPU', () => {
    const w = new World();
    const t = w.task();
    expect(w.scheduler.depth(t)).toBe(2);
    const a = w.addNode('A', { cpu: 3 });
    w.submit(20);
    w.scheduler.run();
    expect(w.countOn(a)).toBe(6);
    expect(w.scheduler.queuedCount).toBe(14);
  });

  it('a function with fewer than 3 runs counts as unmeasured, however fast', () => {
    const w = new World();
    const fn = w.addFunction('fast()', { ewmaMs: 0.1, runs: 2 });
    expect(w.scheduler.depth(w.task({ fn }))).toBe(2);
  });

  it('the shorter the function, the deeper the queue, within [1, 64]', () => {
    const w = new World();
    const depthFor = (ewmaMs: number): number => w.scheduler.depth(w.task({ fn: w.addFunction(`f${ewmaMs}()`, { ewmaMs, runs: 10 }) }));
    expect(depthFor(1)).toBe(10);
    expect(depthFor(2)).toBe(5);
    expect(depthFor(0.5)).toBe(20);
    expect(depthFor(0.001)).toBe(64);
    expect(depthFor(0)).toBe(64);
    expect(depthFor(50)).toBe(1);
    expect(depthFor(5000)).toBe(1);
    expect(depthFor(1)).toBeGreaterThan(depthFor(2));
  });

  it('a node is sent depth x CPUs tasks of a measured short function', () => {
    const w = new World();
    const fn = w.addFunction('short()', { ewmaMs: 2, runs: 100 }); // depth 5
    const a = w.addNode('A', { cpu: 2 });
    w.submit(30, { fn });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(10);
  });

  it('a long function gets exactly one task per CPU', () => {
    const w = new World();
    const fn = w.addFunction('long()', { ewmaMs: 1000, runs: 5 });
    const a = w.addNode('A', { cpu: 4 });
    w.submit(10, { fn });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(4);
  });

  it('a very short function fills up to 64 per CPU', () => {
    const w = new World();
    const fn = w.addFunction('tiny()', { ewmaMs: 0.01, runs: 1000 });
    const a = w.addNode('A', { cpu: 2 });
    w.submit(200, { fn });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(128);
  });

  it('tasks that ask for no CPU still take a queue place: depth x CPUs + 16', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 2 });
    w.submit(40, { resources: {} });
    w.scheduler.run();
    expect(w.countOn(a)).toBe(2 * 2 + 16);
  });

  it('the depth of a function is per function: a slow one does not limit a fast one', () => {
    const w = new World();
    const slow = w.addFunction('slow()', { ewmaMs: 1000, runs: 5 });
    const fast = w.addFunction('fast()', { ewmaMs: 1, runs: 5 });
    const a = w.addNode('A', { cpu: 1 });
    w.submit(5, { fn: slow });
    w.submit(20, { fn: fast });
    w.scheduler.run();
    const onA = w.assigned.filter((x) => x.node === a);
    expect(onA.filter((x) => x.task.spec.fnId === slow)).toHaveLength(1);
    // The fast function's queue is 10 deep per CPU and the slow task already takes one.
    expect(onA.filter((x) => x.task.spec.fnId === fast)).toHaveLength(9);
  });
});

// Not here: a blocked task (waiting in get) giving back its CPU is
// TaskManager.setBlocked's job, not the scheduler's.

// Issue 14: placement through the node index (by resource shape, then load)
// instead of a scan of every node. The index must choose what the scan chose.

/** What the scan of every node chose before the index (the old default policy, without the event log). */
function scanPick(w: World, t: TaskRecord): NodeRecord | null {
  let best: NodeRecord | null = null;
  let bestBytes = -1;
  let bestLoad = Infinity;
  let holder: NodeRecord | null = null;
  let holderBytes = 0;
  let holderLoad = Infinity;
  for (const n of w.scheduler.nodeList) {
    let bytes = 0;
    for (const a of t.spec.args) {
      const o = a.r === undefined ? undefined : w.gcs.objects.get(a.r);
      if (o && o.locations.has(n.session)) bytes += o.size;
    }
    const load = n.inflightTasks / Math.max(1, n.resources.cpu ?? 1);
    const feasible = Object.entries(t.spec.resources).every(([r, v]) => v <= (n.resources[r] ?? 0));
    if (bytes >= 64 * KiB && (bytes > holderBytes || (bytes === holderBytes && load < holderLoad)) && feasible) {
      holder = n;
      holderBytes = bytes;
      holderLoad = load;
    }
    if (!w.scheduler.fits(n, t)) continue;
    const b = bytes >= 64 * KiB ? bytes : 0;
    if (b > bestBytes || (b === bestBytes && load < bestLoad)) {
      best = n;
      bestBytes = b;
      bestLoad = load;
    }
  }
  let pastDepth = false;
  if (holder && bestBytes < holderBytes) {
    // Saturated: a resource other than CPU is taken, or its queue is SATURATED_TASKS_PER_CPU deep.
    const otherThanCpu = Object.entries(t.spec.resources).some(([r, v]) => r !== 'cpu' && v > 0);
    const saturated = otherThanCpu ? !w.scheduler.fits(holder, t) : holder.inflightTasks >= Math.max(1, holder.resources.cpu ?? 0) * SATURATED_TASKS_PER_CPU;
    if (!saturated) {
      best = holder;
      bestBytes = holderBytes;
      pastDepth = true;
    }
  }
  // Spillback (issue 17): the holder it would queue on has a wave of tasks ahead per CPU, the least loaded
  // node with room fewer, and what must move takes at most SPILL_MAX_MS between edge nodes (the function is not
  // measured; this test's objects are smaller). With no node with room, it waits rather than queue past the holder's depth.
  if (holder) {
    const waves = (n: NodeRecord) => Math.floor(loadOf(n));
    const feasible = (n: NodeRecord) => Object.entries(t.spec.resources).every(([r, v]) => v <= (n.resources[r] ?? 0));
    const leastOf = (ok: (n: NodeRecord) => boolean) => {
      let least: NodeRecord | null = null;
      for (const n of w.scheduler.nodeList) if (ok(n) && (!least || loadOf(n) < loadOf(least))) least = n;
      return least;
    };
    const bytesOn = (n: NodeRecord) =>
      t.spec.args.reduce((sum, a) => sum + (a.r !== undefined && w.gcs.objects.get(a.r)?.locations.has(n.session) ? w.gcs.objects.get(a.r)!.size : 0), 0);
    const least = leastOf((n) => w.scheduler.fits(n, t));
    if (!best) best = least;
    else if (least && least !== best) {
      if (waves(least) < waves(best) && (bestBytes - bytesOn(least)) / LINK_BYTES_PER_MS.tcp <= SPILL_MAX_MS) best = least;
    } else if (pastDepth && !least) {
      const next = leastOf(feasible);
      if (next && next !== holder && waves(next) < waves(holder) && (holderBytes - bytesOn(next)) / LINK_BYTES_PER_MS.tcp <= SPILL_MAX_MS) best = null;
    }
  }
  return best;
}

function loadOf(n: NodeRecord): number {
  return n.inflightTasks / Math.max(1, n.resources.cpu ?? 1);
}

/** A small seeded generator (mulberry32), so that a failure can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe('the node index chooses what the scan of every node chose', () => {
  it('random meshes (shapes, loads, GPUs, large arguments on some nodes): every placement is the one the scan makes', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const w = new World();
      const nodes: NodeRecord[] = [];
      const count = 2 + Math.floor(r() * 40);
      for (let i = 0; i < count; i++) {
        const res: Record<string, number> = { cpu: 1 + Math.floor(r() * 4) };
        if (r() < 0.3) res.gpu = 1 + Math.floor(r() * 2);
        nodes.push(w.addNode(`n${i}`, res, Math.floor(r() * 6)));
      }
      const objects = Array.from({ length: 4 }, () => w.addObject(Math.floor(r() * 300 * KiB), ...nodes.filter(() => r() < 0.15).map((n) => n.session)));
      for (let i = 0; i < 60; i++) {
        const args: Arg[] = r() < 0.5 ? [{ r: objects[Math.floor(r() * objects.length)] }] : [];
        const resources: Record<string, number> = r() < 0.25 ? { cpu: 1, gpu: 1 } : { cpu: 1 };
        const t = w.task({ args, resources });
        const want = scanPick(w, t);
        w.scheduler.enqueue(t);
        w.scheduler.run();
        const got = t.state === 'assigned' ? t.node : null;
        expect(got?.name ?? null, `seed ${seed}, task ${i}`).toBe(want?.name ?? null);
        // Some tasks end, in random order: loads go down as well as up.
        if (r() < 0.4) {
          const running = w.assigned.filter((a) => a.task.state === 'assigned');
          if (running.length) w.finish(running[Math.floor(r() * running.length)].task);
        }
        if (t.state === 'queued') t.state = 'cancelled'; // keep the queue to this one task
      }
    }
  });

  it('in a mesh of 5,000 nodes a task goes to a least loaded node with room, and a node freed in the middle is found', () => {
    const w = new World();
    const nodes = Array.from({ length: 5000 }, (_, i) => w.addNode(`n${i}`, { cpu: 2 }, 3));
    const idle = nodes[4321];
    Scheduler.charge(idle, w.task(), -1);
    Scheduler.charge(idle, w.task(), -1);
    const [t] = w.submit(1);
    w.scheduler.run();
    expect(t.node).toBe(idle);
    // Every node is at 1.5 tasks per CPU now but idle (at 0.5): the next ones go there too, then spread by load.
    w.submit(2);
    w.scheduler.run();
    expect(w.assigned[1].node).toBe(idle);
    expect(w.assigned[2].node.inflightTasks).toBe(4);
  });

  it('nodes whose CPUs are all held by actors come last: more than a handful of them do not hide the nodes with room', () => {
    const w = new World();
    for (let i = 0; i < 400; i++) {
      const n = w.addNode(`actor-host${i}`, { cpu: 1 });
      // A live actor: it holds its CPU outright and still counts as one task there.
      Scheduler.charge(n, w.task(), 1);
      n.actorCpu = 1;
      Scheduler.touch(n);
    }
    const free = w.addNode('free', { cpu: 1 }, 1);
    const [t] = w.submit(1);
    w.scheduler.run();
    expect(t.node).toBe(free);
  });

  it('a node that pauses (its CPUs go to 0) changes shape: CPU tasks stop going there until it offers CPUs again', () => {
    const w = new World();
    const a = w.addNode('A', { cpu: 4 });
    const b = w.addNode('B', { cpu: 4 }, 2);
    a.resources.cpu = 0;
    w.scheduler.touch(a);
    w.submit(2);
    w.scheduler.run();
    expect(w.placements()).toEqual(['B', 'B']);
    a.resources.cpu = 4;
    w.scheduler.touch(a);
    w.submit(1);
    w.scheduler.run();
    expect(w.assigned[2].node).toBe(a);
    expect(b.inflightTasks).toBe(4);
  });

  it('"could this run anywhere in the mesh?" comes from the shapes, and follows nodes joining and leaving', () => {
    const w = new World();
    w.addNode('cpu', { cpu: 8 });
    const gpuTask = w.task({ resources: { cpu: 1, gpu: 2 } });
    expect(w.scheduler.feasibleAnywhere(gpuTask)).toBe(false);
    const g = w.addNode('gpu', { cpu: 2, gpu: 2 }, 2); // busy: still feasible
    expect(w.scheduler.feasibleAnywhere(gpuTask)).toBe(true);
    expect(w.scheduler.feasibleAnywhere(w.task({ resources: { cpu: 16 } }))).toBe(false);
    expect(w.scheduler.feasibleAnywhere(w.task({ resources: { gpu: 0 } }))).toBe(true);
    w.removeNode(g);
    expect(w.scheduler.feasibleAnywhere(gpuTask)).toBe(false);
  });

  it('spread in a large mesh still visits the nodes in turn, skipping full ones', () => {
    const w = new World();
    const nodes = Array.from({ length: 1000 }, (_, i) => w.addNode(`n${i}`, { cpu: 1 }, i % 2 === 0 ? 2 : 0));
    w.submit(300, { scheduling: 'spread' });
    w.scheduler.run();
    const names = w.placements();
    expect(names).toHaveLength(300);
    expect(new Set(names).size).toBe(300); // 300 different nodes
    for (const a of w.assigned) expect(nodes.indexOf(a.node) % 2).toBe(1); // the full ones were skipped
  });

  it('a node that left is never chosen, and the join order of the others is kept', () => {
    const w = new World();
    const ns = Array.from({ length: 300 }, (_, i) => w.addNode(`n${i}`, { cpu: 1 }));
    for (const n of ns.slice(0, 200)) w.removeNode(n);
    w.submit(3);
    w.scheduler.run();
    expect(w.placements()).toEqual(['n200', 'n201', 'n202']);
  });
});

describe('time-sliced passes (issue 14)', () => {
  it('a pass stops at its budget and goes on in a later turn, from the class it stopped at', async () => {
    const w = new World();
    const other = w.addFunction('other()');
    w.addNode('big', { cpu: 10_000 });
    const first = w.submit(5000);
    const second = w.submit(10, { fn: other });
    expect(w.scheduler.run({ tasks: 1000, ms: Infinity })).toBe(false);
    expect(w.assigned).toHaveLength(1000);
    // Not placed by the pass that stopped; the next pass starts with the first class again.
    expect(second.every((t) => t.state === 'queued')).toBe(true);
    expect(w.scheduler.slicedPasses).toBe(1);
    // Left alone, the rest goes out turn by turn (through setImmediate).
    for (let i = 0; i < 50 && w.assigned.length < 5010; i++) await new Promise((r) => setImmediate(r));
    expect(w.assigned).toHaveLength(5010);
    expect(w.assigned.slice(0, 5000).map((a) => a.task)).toEqual(first);
    expect(w.scheduler.slicedPasses).toBeGreaterThan(1);
  });

  it('when each placement takes 1 ms, a pass of an 8 ms budget stops within PASS_CHECK placements of it, not 64', () => {
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const w = new World();
      w.addNode('big', { cpu: 10_000 });
      w.submit(500);
      w.onAssign = () => {
        now += 1;
      };
      expect(w.scheduler.run({ tasks: 2000, ms: 8 })).toBe(false);
      // The clock is read every PASS_CHECK placements: the first reading past 1,008 ms cuts the pass.
      expect(w.assigned.length).toBeGreaterThanOrEqual(8);
      expect(w.assigned.length).toBeLessThanOrEqual(8 + PASS_CHECK);
      expect(w.scheduler.slicedPasses).toBe(1);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('a class is not starved by a larger one: the pass after a cut starts where it stopped', () => {
    const w = new World();
    const other = w.addFunction('other()');
    w.addNode('big', { cpu: 10_000 });
    w.submit(3000);
    const [late] = w.submit(1, { fn: other });
    expect(w.scheduler.run({ tasks: 1000, ms: Infinity })).toBe(false);
    expect(w.scheduler.run({ tasks: 1000, ms: Infinity })).toBe(false);
    expect(w.scheduler.run({ tasks: 1000, ms: Infinity })).toBe(false);
    expect(late.state).toBe('queued');
    // The first class is drained now: the next pass reaches the second.
    expect(w.scheduler.run({ tasks: 1000, ms: Infinity })).toBe(true);
    expect(late.state).toBe('assigned');
  });
});

describe('distinct nodes per turn (issue 14): each is a frame and a socket write', () => {
  // Counted per turn, not timed: a standing clock, so that neither a pass (PASS_MS) nor a flush turn (FLUSH_MS)
  // is cut by the machine's load.
  beforeEach(() => {
    vi.spyOn(performance, 'now').mockReturnValue(1000);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  /**
   * Each node's assignments go into an outbox flushed like a coordinator
   * session's (coordinator/flush-turns.ts); runs the scheduler's turns until
   * `total` tasks are placed and sent. Answers the frames, as [node, tasks in it].
   */
  async function sendAll(w: World, total: number): Promise<{ frames: Array<[NodeRecord, number]>; flushes: SessionFlushes }> {
    const flushes = new SessionFlushes(TURN_NODES);
    const frames: Array<[NodeRecord, number]> = [];
    const boxes = new Map<NodeRecord, Outbox>();
    w.onAssign = (_t, n) => {
      let b = boxes.get(n);
      if (!b) boxes.set(n, (b = new Outbox((f) => frames.push([n, decodeFrame(f).length]), undefined, flushes)));
      b.push({ t: 'giveBack', n: 1 });
    };
    w.scheduler.runPending();
    for (let i = 0; i < 500 && (w.assigned.length < total || flushes.size > 0); i++) await new Promise((r) => setImmediate(r));
    return { frames, flushes };
  }

  it('in a mesh of 10,000 a turn gives work to at most TURN_NODES nodes, the least loaded first, each filled to half its depth', async () => {
    const w = new World();
    const fn = w.addFunction('short()', { ewmaMs: 1, runs: 100 }); // depth 10
    const nodes = Array.from({ length: 10_000 }, (_, i) => w.addNode(`n${i}`, { cpu: 1 }, i < 100 ? 1 : 0));
    const ts = w.submit(6000, { fn });
    const { frames, flushes } = await sendAll(w, 6000);
    expect(w.assigned).toHaveLength(6000);
    // No turn had more than TURN_NODES outboxes to flush: none was carried to a later turn.
    expect(flushes.maxPerTurn).toBeLessThanOrEqual(TURN_NODES);
    expect(flushes.carried).toBe(0);
    // Frames carry several tasks each: 6,000 tasks in far fewer writes than one per task.
    expect(frames.reduce((s, [, k]) => s + k, 0)).toBe(6000);
    expect(frames.length).toBeLessThan(6000 / 3);
    // The first nodes given work are the least loaded (idle ones, in join order; the first 100 were busy), each
    // filled to half its depth (5 tasks) before the next is touched (packing.ts); the turn's TURN_NODES-th node
    // is filled by the turn's round robin, which stops at the same threshold: the rest waits for the next turn.
    const half = 5;
    const first = w.assigned.slice(0, half * (TURN_NODES - 1)).map((a) => a.node.name);
    expect(first).toEqual(nodes.slice(100, 99 + TURN_NODES).flatMap((n) => Array<string>(half).fill(n.name)));
    expect(new Set(w.assigned.slice(0, half * TURN_NODES).map((a) => a.node))).toEqual(new Set(nodes.slice(100, 100 + TURN_NODES)));
    // No node past half its depth (the busy ones were given none); tasks in queue order.
    for (const [i, n] of nodes.entries()) expect(n.inflightTasks).toBe(i < 100 ? 1 : i < 100 + 6000 / half ? half : 0);
    expect(w.assigned.map((a) => a.task)).toEqual(ts);
    expect(w.scheduler.packed).toBeGreaterThan(0);
  });

  it('spread is not packed: past TURN_NODES nodes a turn stops, and the next goes on round robin', async () => {
    const w = new World();
    Array.from({ length: 2000 }, (_, i) => w.addNode(`n${i}`, { cpu: 1 }));
    w.submit(1000, { scheduling: 'spread' });
    const { frames, flushes } = await sendAll(w, 1000);
    expect(new Set(w.placements()).size).toBe(1000);
    expect(frames).toHaveLength(1000);
    expect(flushes.carried).toBe(0);
    expect(w.scheduler.packed).toBe(0);
  });

  it('a mesh of TURN_NODES nodes or fewer never meets the bound: least loaded as before', async () => {
    const w = new World();
    const fn = w.addFunction('short()', { ewmaMs: 1, runs: 100 });
    const nodes = Array.from({ length: TURN_NODES }, (_, i) => w.addNode(`n${i}`, { cpu: 1 }));
    w.submit(3 * TURN_NODES, { fn });
    await sendAll(w, 3 * TURN_NODES);
    // Least loaded each time: three rounds over the nodes in join order.
    expect(w.assigned.map((a) => a.node)).toEqual([...nodes, ...nodes, ...nodes]);
    expect(w.scheduler.packed).toBe(0);
  });
});

describe('the end of turn', () => {
  it('frames that each run a pass and ask for another schedule one end-of-turn callback, not one each; the next turn gets its own', async () => {
    const w = new World();
    w.addNode('a', { cpu: 64 });
    const spy = vi.spyOn(globalThis, 'setImmediate');
    try {
      // What the inbox does: a frame's messages enqueue (soon), then runPending places them.
      for (let i = 0; i < 50; i++) {
        w.submit(1);
        w.scheduler.runPending();
      }
      expect(w.assigned).toHaveLength(50);
      expect(spy).toHaveBeenCalledTimes(1);
      await new Promise<void>((r) => setImmediate(r));
      const before = spy.mock.calls.length;
      w.submit(1);
      expect(spy.mock.calls.length).toBe(before + 1);
      await new Promise<void>((r) => setImmediate(r));
      expect(w.assigned).toHaveLength(51);
    } finally {
      spy.mockRestore();
    }
  });
});
