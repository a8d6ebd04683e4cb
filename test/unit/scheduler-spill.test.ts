// The global scheduler: a busy holder of a task's arguments spills work to an
// idle node when the wait is longer than the move (spillback), and how deep a
// node's queue is filled (pipelining) for short functions.
// White-box: an in-memory Gcs, hand-made records, `run()` called directly.
import { describe, expect, it, vi } from 'vitest';
import { World } from '../helpers/scheduler-world.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { Scheduler } from '../../coordinator/scheduler/scheduler.js';
import { SPILL_MAX_MS } from '../../coordinator/scheduler/default-policy.js';
import { LINK_BYTES_PER_MS } from '../../shared/transfer/link-rates.js';

const KiB = 1024;
const MiB = 1024 * KiB;

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
