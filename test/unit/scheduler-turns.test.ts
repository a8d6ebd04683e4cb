// The global scheduler's turns (issue 14): time-sliced passes, at most
// TURN_NODES distinct nodes given work a turn, one end-of-turn callback.
// White-box: an in-memory Gcs, hand-made records, `run()` called directly.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { World } from '../helpers/scheduler-world.js';
import type { NodeRecord } from '../../coordinator/gcs/tables.js';
import { PASS_CHECK, TURN_NODES } from '../../coordinator/scheduler/scheduler.js';
import { decodeFrame, Outbox } from '../../shared/protocol/frame.js';
import { SessionFlushes } from '../../coordinator/flush-turns.js';

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
