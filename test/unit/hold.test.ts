// Holding nodes that fall silent together (coordinator/nodes/hold.ts, session 37): one silent node is lost at its
// deadline as before; 60% silent together are held (no new work, tasks kept, nothing retried), lost after the hold's
// bound if they stay silent, back with their tasks if they speak; a few together are held a window only; a mass is
// taken at the eviction rate, longest held first.
// White-box: a real Coordinator (in-memory GCS) on a fake clock, nodes joined through membership with stand-in sessions.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { NodeRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { holdOptions, type HoldOptions } from '../../coordinator/nodes/hold.js';
import { place, unplace } from '../../coordinator/nodes/load.js';
import { fakeSession } from '../helpers/node-record.js';

const HEARTBEAT_MS = 1000;
const DEAD_MS = 5000;
const TICK = HEARTBEAT_MS / 2;
const HOLD_DEAD_MS = 30_000;

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
  vi.useRealTimers();
});

interface World {
  c: Coordinator;
  nodes: NodeRecord[];
  failed: Set<string>;
  /** Nodes whose tasks were handed back as lost (the retry path), in order. */
  lostTasks: NodeRecord[];
}

function world(count: number, hold: Partial<HoldOptions> = {}, withTask = true): World {
  vi.useFakeTimers({ now: 1_000_000 });
  const co = (c = new Coordinator({
    storage: new MemoryStorage(),
    heartbeatMs: HEARTBEAT_MS,
    deadAfterMs: DEAD_MS,
    hold: { deadAfterMs: HOLD_DEAD_MS, evictPerSec: 0, ...hold },
  }));
  const failed = new Set<string>();
  const lostTasks: NodeRecord[] = [];
  // What the coordinator does with a lost node's tasks is not this test's: that it is asked, and when, is.
  vi.spyOn((co as unknown as { ends: { nodeLost(n: NodeRecord): void } }).ends, 'nodeLost').mockImplementation((n) => void lostTasks.push(n));
  const nodes = Array.from({ length: count }, (_, i) => {
    const name = `n${i}`;
    const s = fakeSession(name, { send() {}, fail: () => failed.add(name) });
    const n = co.membership.join(s, { kind: 'edge', name, resources: { cpu: 1 }, storeBytes: 0 });
    if (withTask) place(n, { spec: { resources: { cpu: 1 } } } as unknown as TaskRecord);
    else co.membership.heartbeat(n, { t: 'heartbeat', running: 0, queued: 0, storeBytes: 0, idle: true });
    return n;
  });
  return { c: co, nodes, failed, lostTasks };
}

const alive = (co: Coordinator, n: NodeRecord) => co.gcs.nodes.get(n.id) === n;
const events = (co: Coordinator, kind: string) => co.gcs.events.filter((e) => e.kind === kind);

/** `ms` of time, a second at a time, `talking` sending a frame each second. */
function run(co: Coordinator, talking: readonly NodeRecord[], ms: number): void {
  for (let t = 0; t < ms; t += 1000) {
    vi.advanceTimersByTime(Math.min(1000, ms - t));
    for (const n of talking) co.membership.seen(n);
  }
}

/** The silent ones stop spread over a keepalive window (2 s), as a stalled process's nodes do: the others keep talking. */
function stopSpread(co: Coordinator, silent: readonly NodeRecord[], talking: readonly NodeRecord[]): void {
  for (let k = 0; k < 4; k++) {
    vi.advanceTimersByTime(TICK);
    for (const n of talking) co.membership.seen(n);
    for (let i = 0; i < silent.length; i++) if (i % 4 > k) co.membership.seen(silent[i]);
  }
}

describe('holding nodes that fall silent together', () => {
  it('one silent node of 100 is lost at its deadline, as before: not held, its tasks handed back then', () => {
    const { c: co, nodes, failed, lostTasks } = world(100);
    const [silent, ...talking] = nodes;
    run(co, talking, DEAD_MS - 1000);
    expect(alive(co, silent)).toBe(true);
    run(co, talking, 1000 + 2 * TICK);
    expect(alive(co, silent)).toBe(false);
    expect(failed).toEqual(new Set([silent.name]));
    expect(lostTasks).toEqual([silent]);
    expect(events(co, 'nodes-held')).toHaveLength(0);
    expect(co.membership.counts.nodesHeld).toBe(0);
  });

  it('60% silent together: held past the deadline (no new work, nothing retried); still silent, lost at the bound', () => {
    const { c: co, nodes, failed, lostTasks } = world(100);
    const silent = nodes.slice(0, 60);
    const talking = nodes.slice(60);
    stopSpread(co, silent, talking);
    run(co, talking, DEAD_MS + 2 * HEARTBEAT_MS);
    for (const n of silent) {
      expect(alive(co, n)).toBe(true);
      expect(n.heldSince).toBeTypeOf('number');
      expect(co.scheduler.index.has(n)).toBe(false);
      expect(n.tasks.size).toBe(1);
    }
    for (const n of talking) expect(co.scheduler.index.has(n)).toBe(true);
    expect(lostTasks).toHaveLength(0);
    expect(failed.size).toBe(0);
    expect(co.membership.hold.mass).toBe(true);
    expect(events(co, 'nodes-held').length).toBeGreaterThan(0);
    expect(events(co, 'nodes-held').at(-1)!.message).toMatch(/a mass/);
    // Silent to within a second of the bound: still held.
    run(co, talking, HOLD_DEAD_MS - DEAD_MS - 2 * HEARTBEAT_MS - 1000 - 2 * TICK);
    for (const n of silent) expect(alive(co, n)).toBe(true);
    run(co, talking, 2000 + 2 * TICK);
    for (const n of silent) expect(alive(co, n)).toBe(false);
    expect(new Set(lostTasks)).toEqual(new Set(silent));
    expect(co.membership.counts.nodesLostAfterHold).toBe(silent.length);
    expect(events(co, 'node-lost').every((e) => /held \d+ ms/.test(e.message))).toBe(true);
    expect(co.membership.hold.size).toBe(0);
    for (const n of talking) expect(alive(co, n)).toBe(true);
  });

  it('60% silent together, then they speak: each is back with its task, taking work again; none lost, nothing retried', () => {
    const { c: co, nodes, failed, lostTasks } = world(100);
    const silent = nodes.slice(0, 60);
    const talking = nodes.slice(60);
    stopSpread(co, silent, talking);
    run(co, talking, 12_000);
    expect(co.membership.hold.size).toBe(silent.length);
    run(co, nodes, 1000);
    vi.advanceTimersByTime(TICK);
    for (const n of silent) {
      expect(alive(co, n)).toBe(true);
      expect(n.heldSince).toBeUndefined();
      expect(co.scheduler.index.has(n)).toBe(true);
      expect(n.tasks.size).toBe(1);
    }
    expect(co.membership.hold.size).toBe(0);
    expect(co.membership.hold.mass).toBe(false);
    expect(co.membership.counts.nodesReleased).toBe(silent.length);
    expect(events(co, 'nodes-released').length).toBeGreaterThan(0);
    // Back under their own window: silent again alone, one is lost at its deadline, not the hold's bound.
    const [again] = silent;
    run(
      co,
      nodes.filter((n) => n !== again),
      DEAD_MS + 2 * TICK + 1000,
    );
    expect(alive(co, again)).toBe(false);
    expect(lostTasks).toEqual([again]);
    expect(failed).toEqual(new Set([again.name]));
  });

  it('the first of a group comes due alone, the rest within the keepalive window: it is held too, as the group is silent already', () => {
    const { c: co, nodes, lostTasks } = world(100);
    const [first, ...rest] = nodes.slice(0, 60);
    const talking = nodes.slice(60);
    // The first stops 1.5 s before the others: at its deadline, it is the only one late.
    vi.advanceTimersByTime(1500);
    for (const n of [...rest, ...talking]) co.membership.seen(n);
    run(co, talking, DEAD_MS - 1000);
    expect(alive(co, first)).toBe(true);
    expect(first.heldSince).toBeTypeOf('number');
    expect(rest.every((n) => n.heldSince === undefined)).toBe(true);
    run(co, talking, 2000);
    expect(co.membership.hold.size).toBe(60);
    expect(lostTasks).toHaveLength(0);
  });

  it('a few together (30 of 1,000: past the floor and a part of the share, under the share) are held a window only, then lost', () => {
    const { c: co, nodes, lostTasks } = world(1000);
    const silent = nodes.slice(0, 30);
    const talking = nodes.slice(30);
    run(co, talking, DEAD_MS + 2 * TICK);
    const window = co.membership.hold.windowMs;
    expect(co.membership.hold.mass).toBe(false);
    expect(events(co, 'nodes-held').at(-1)?.message).toMatch(/unless 10% of the nodes/);
    run(co, talking, window + 2 * TICK);
    for (const n of silent) expect(alive(co, n)).toBe(false);
    expect(new Set(lostTasks)).toEqual(new Set(silent));
    expect(events(co, 'node-lost').every((e) => /too few together/.test(e.message))).toBe(true);
    // Fewer than a quarter of the share (25 of 970): lost at the deadline, never held.
    const few = talking.slice(0, 20);
    const rest = talking.slice(20);
    const heldBefore = co.membership.counts.nodesHeld;
    run(co, rest, DEAD_MS + 1000 + 2 * TICK);
    for (const n of few) expect(alive(co, n)).toBe(false);
    expect(co.membership.counts.nodesHeld).toBe(heldBefore);
  });

  it('60% of nodes that hold nothing silent together: held past their idle window, lost as much past it as the hold adds', () => {
    const { c: co, nodes, failed } = world(100, {}, false);
    const silent = nodes.slice(0, 60);
    const talking = nodes.slice(60);
    const IDLE_DEAD_MS = 30_000;
    run(co, talking, IDLE_DEAD_MS + 2 * HEARTBEAT_MS);
    for (const n of silent) expect(n.heldSince).toBeTypeOf('number');
    expect(failed.size).toBe(0);
    // Held to the idle window + (hold bound - dead window) = 55 s of silence.
    run(co, talking, IDLE_DEAD_MS + HOLD_DEAD_MS - DEAD_MS - (IDLE_DEAD_MS + 2 * HEARTBEAT_MS) - 1000);
    for (const n of silent) expect(alive(co, n)).toBe(true);
    run(co, talking, 2000 + 2 * TICK);
    for (const n of silent) expect(alive(co, n)).toBe(false);
    expect(failed.size).toBe(silent.length);
  });

  // `said`: the busy ones said so in a heartbeat; else they were given work after their idle word, with no frame
  // since (a task may start and end between two heartbeats).
  it.each([
    ['most nodes hold nothing: 150 of the 200 busy ones silent together (1.5% of 10,000) are a mass of the busy ones: held', true],
    ['nodes that said they hold nothing, then were given a task, fall silent: read with the busy ones (their window), held', false],
  ])('%s', (_, said) => {
    const { c: co, nodes, lostTasks } = world(10_000, {}, false);
    const busy = nodes.slice(0, 200);
    for (const n of busy) {
      place(n, { spec: { resources: { cpu: 1 } } } as unknown as TaskRecord);
      if (said) co.membership.heartbeat(n, { t: 'heartbeat', running: 1, queued: 0, storeBytes: 0 });
    }
    const silent = busy.slice(0, 150);
    run(co, nodes.slice(150), DEAD_MS + 2 * HEARTBEAT_MS);
    for (const n of silent) expect(n.heldSince).toBeTypeOf('number');
    expect(co.membership.hold.mass).toBe(true);
    expect(lostTasks).toHaveLength(0);
  });

  it('one busy node silent while 200 idle ones that ran a task between heartbeats keep quiet: lost at its deadline, not held', () => {
    const { c: co, nodes, lostTasks } = world(10_000, {}, false);
    // Given a task and done with it with no frame between (their idle word stands): under the idle window again.
    const ranOne = nodes.slice(0, 200);
    for (const n of ranOne) {
      const t = { spec: { resources: { cpu: 1 } } } as unknown as TaskRecord;
      place(n, t);
      unplace(n, t);
    }
    const [busy] = nodes.slice(200, 201);
    place(busy, { spec: { resources: { cpu: 1 } } } as unknown as TaskRecord);
    co.membership.heartbeat(busy, { t: 'heartbeat', running: 1, queued: 0, storeBytes: 0 });
    run(co, nodes.slice(201), DEAD_MS + 2 * TICK + 1000);
    expect(alive(co, busy)).toBe(false);
    expect(lostTasks).toEqual([busy]);
    expect(co.membership.counts.nodesHeld).toBe(0);
    for (const n of ranOne) expect(alive(co, n)).toBe(true);
  });

  /** 2,000 nodes: the first 1,000 busy (a task, said so), the others hold nothing and said so. */
  function busyAndIdle(): { co: Coordinator; busy: NodeRecord[]; idle: NodeRecord[]; lostTasks: NodeRecord[] } {
    const { c: co, nodes, lostTasks } = world(2000, {}, false);
    const busy = nodes.slice(0, 1000);
    for (const n of busy) {
      place(n, { spec: { resources: { cpu: 1 } } } as unknown as TaskRecord);
      co.membership.heartbeat(n, { t: 'heartbeat', running: 1, queued: 0, storeBytes: 0 });
    }
    return { co, busy, idle: nodes.slice(1000), lostTasks };
  }

  it("a stopped host's nodes, most holding nothing: its 20 busy ones (2% of the busy) wait for the idle ones' silence, a mass", () => {
    // bench:scale (session 37): a 20 s stop of 5,000 of 10,000 nodes lost its 133 busy ones at 5 s, few among the
    // mesh's busy nodes, while its idle ones may keep quiet 15 s.
    const { co, busy, idle, lostTasks } = busyAndIdle();
    const stopped = [...busy.slice(0, 20), ...idle.slice(0, 500)];
    const talking = [...busy.slice(20), ...idle.slice(500)];
    run(co, talking, DEAD_MS + 2 * HEARTBEAT_MS);
    for (const n of busy.slice(0, 20)) expect(n.heldSince).toBeTypeOf('number');
    expect(co.membership.hold.mass).toBe(false);
    expect(events(co, 'nodes-held').at(-1)!.message).toMatch(/idle ones are not heard since/);
    // Past the idle keepalive window (15 s) and a heartbeat: the 500 idle ones are silent, a mass.
    run(co, talking, 12_000);
    expect(co.membership.hold.mass).toBe(true);
    expect(lostTasks).toHaveLength(0);
    run(co, [...talking, ...stopped], 1000);
    vi.advanceTimersByTime(TICK);
    expect(co.membership.hold.size).toBe(0);
    for (const n of busy.slice(0, 20)) expect(co.scheduler.index.has(n)).toBe(true);
    expect(lostTasks).toHaveLength(0);
    expect(co.membership.counts.nodesLostSilent).toBe(0);
  });

  it('20 busy ones silent together while the idle crowd keeps its keepalives: lost once the idle ones spoke, no mass', () => {
    const { co, busy, idle, lostTasks } = busyAndIdle();
    const silent = busy.slice(0, 20);
    const talking = busy.slice(20);
    // Each idle node keeps alive every 15 s (its idleQuietMs), their phases spread over those 15 s.
    const tick = (s: number, busyTalking = talking) => {
      run(co, busyTalking, 1000);
      for (let i = s % 15; i < idle.length; i += 15) co.membership.seen(idle[i]);
    };
    for (let s = 0; s < 15; s++) tick(s, busy);
    const t0 = Date.now();
    let s = 15;
    while (silent.some((n) => alive(co, n)) && Date.now() - t0 < 60_000) tick(s++);
    const lostAfter = Date.now() - t0;
    // Not before the deadline; not later than the idle ones' silence would show (15 s + a heartbeat + ticks).
    expect(lostAfter).toBeGreaterThanOrEqual(DEAD_MS);
    expect(lostAfter).toBeLessThanOrEqual(15_000 + HEARTBEAT_MS + 3 * TICK);
    expect(new Set(lostTasks)).toEqual(new Set(silent));
    expect(co.membership.hold.mass).toBe(false);
    expect(co.gcs.nodes.size).toBe(2000 - 20);
    console.log(`20 busy of 2,000 silent together, the idle crowd keeping alive: lost ${lostAfter} ms after their last frame`);
  });

  it('a mass is taken at the eviction rate, longest held first, before the bound', () => {
    const { c: co, nodes, lostTasks } = world(100, { evictPerSec: 2 });
    const silent = nodes.slice(0, 60);
    const talking = nodes.slice(60);
    stopSpread(co, silent, talking);
    run(co, talking, DEAD_MS + 1000);
    const held = co.membership.hold.list();
    const lostAtStart = lostTasks.length;
    // Held all (a few taken at the rate already, the first of them).
    expect(held.length + lostAtStart).toBe(silent.length);
    expect(lostAtStart).toBeLessThanOrEqual(8);
    run(co, talking, 10_000);
    // 2 a second for 10 s (a token banked at most): 20, give or take the sweep the count starts at.
    const taken = lostTasks.length - lostAtStart;
    expect(taken).toBeGreaterThanOrEqual(18);
    expect(taken).toBeLessThanOrEqual(22);
    expect(lostTasks.slice(lostAtStart)).toEqual(held.slice(0, taken));
    for (const n of held.slice(taken)) expect(alive(co, n)).toBe(true);
    expect(events(co, 'node-lost').every((e) => /hold rate/.test(e.message))).toBe(true);
  });

  it('options are checked at start', () => {
    expect(() => holdOptions({ share: 0 }, DEAD_MS)).toThrow(/share/);
    expect(() => holdOptions({ share: 1.5 }, DEAD_MS)).toThrow(/share/);
    expect(() => holdOptions({ minNodes: 0.5 }, DEAD_MS)).toThrow(/minNodes/);
    expect(() => holdOptions({ evictPerSec: -1 }, DEAD_MS)).toThrow(/evictPerSec/);
    expect(() => holdOptions({ deadAfterMs: Number.NaN }, DEAD_MS)).toThrow(/deadAfterMs/);
    // The bound is never shorter than the dead window.
    expect(holdOptions({ deadAfterMs: 1000 }, DEAD_MS).deadAfterMs).toBe(DEAD_MS);
  });
});
