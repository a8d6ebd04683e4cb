// Failure detection by deadlines (issue 14, coordinator/nodes/liveness.ts):
// at 10,000 nodes a sweep looks at the nodes whose deadline came, never walks
// the node table, and still declares dead exactly the silent ones, no later
// than a sweep after their window; a node that said it holds nothing is
// looked at once per idle window, and work placed on it brings its deadline
// back to the short window from then.
// White-box: a real Coordinator (in-memory GCS) on a fake clock, nodes joined
// through membership with stand-in sessions.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import type { NodeRecord, TaskRecord } from '../../coordinator/gcs/tables.js';
import { place } from '../../coordinator/nodes/load.js';
import { fakeSession } from '../helpers/node-record.js';

const HEARTBEAT_MS = 1000;
const DEAD_MS = 5000;
const IDLE_DEAD_MS = 30_000;
const TICK = HEARTBEAT_MS / 2;

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
  vi.useRealTimers();
});

function world(count: number): { c: Coordinator; nodes: NodeRecord[]; failed: Set<string> } {
  vi.useFakeTimers({ now: 1_000_000 });
  const co = (c = new Coordinator({ storage: new MemoryStorage(), heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_MS, idleDeadAfterMs: IDLE_DEAD_MS }));
  const failed = new Set<string>();
  const nodes = Array.from({ length: count }, (_, i) => {
    const name = `n${i}`;
    const s = fakeSession(name, { send() {}, fail: () => failed.add(name) });
    return co.membership.join(s, { kind: 'edge', name, resources: { cpu: 1 }, storeBytes: 0 });
  });
  return { c: co, nodes, failed };
}

const alive = (co: Coordinator, n: NodeRecord) => co.gcs.nodes.get(n.id) === n;

describe('failure detection by deadlines', () => {
  it('10,000 nodes: sweeps look at the nodes due only, never walk the table; the silent ones die within a tick of their window', () => {
    const { c: co, nodes, failed } = world(10_000);
    const silent = nodes.slice(0, 100);
    const talking = nodes.slice(100);
    const walks = vi.spyOn(co.gcs.nodeTable, 'values');
    const walks2 = vi.spyOn(co.gcs.nodes, 'values');
    const d = co.membership.deadlines;
    const joinedAt = Date.now();
    // Every node but the silent ones sends a frame each second for a minute.
    for (let sec = 1; sec <= 60; sec++) {
      vi.advanceTimersByTime(1000);
      for (const n of talking) co.membership.seen(n);
      if (sec === 4) {
        // 4 s in: 8 sweeps, no deadline came yet, nobody looked at (a walk looked at 80,000).
        expect(d.visited).toBe(0);
        for (const n of silent) expect(alive(co, n)).toBe(true);
      }
      if (sec === 6) {
        // Past the window (+ a tick): every silent one dead, every talking one alive.
        for (const n of silent) expect(alive(co, n)).toBe(false);
        expect(failed.size).toBe(silent.length);
        for (const n of talking) expect(alive(co, n)).toBe(true);
      }
    }
    expect(Date.now() - joinedAt).toBe(60_000);
    expect(walks).not.toHaveBeenCalled();
    expect(walks2).not.toHaveBeenCalled();
    for (const n of talking) expect(alive(co, n)).toBe(true);
    // A talking node is looked at about once per dead window (at most twice); 120 sweeps of a walk look at 1,200,000.
    const windows = 60_000 / DEAD_MS;
    expect(d.visited).toBeLessThanOrEqual(2 * windows * nodes.length);
    expect(d.visited).toBeGreaterThanOrEqual(windows * talking.length * 0.9);
    expect(co.gcs.events.filter((e) => e.kind === 'node-lost' && /no heartbeat/.test(e.message))).toHaveLength(silent.length);
    expect(d.size).toBe(talking.length);
  });

  it('a node that said it holds nothing is looked at once per idle window; work placed on it brings its deadline to the short window from then', () => {
    const { c: co, nodes } = world(1000);
    for (const n of nodes) co.membership.heartbeat(n, { t: 'heartbeat', running: 0, queued: 0, storeBytes: 0, idle: true });
    const d = co.membership.deadlines;
    const quiet = nodes.slice(1);
    const [hung] = nodes;
    // Filed at the join under the short window: looked at once when it comes, then filed under the idle one.
    vi.advanceTimersByTime(DEAD_MS + TICK);
    expect(d.visited).toBe(nodes.length);
    // 10 s of silence: a task is placed on the hung node: dead within the short window from the placement, not the idle one.
    vi.advanceTimersByTime(10_000 - DEAD_MS - TICK);
    const placedAt = Date.now();
    const t = { spec: { resources: { cpu: 1 } } } as unknown as TaskRecord;
    // A stand-in task: what the coordinator does with a lost node's tasks is not this test's.
    vi.spyOn((co as unknown as { ends: { nodeLost(n: NodeRecord): void } }).ends, 'nodeLost').mockImplementation(() => {});
    place(hung, t);
    vi.advanceTimersByTime(DEAD_MS - TICK);
    expect(alive(co, hung)).toBe(true);
    vi.advanceTimersByTime(2 * TICK + 1);
    expect(alive(co, hung)).toBe(false);
    expect(Date.now() - placedAt).toBeLessThanOrEqual(DEAD_MS + 2 * TICK + 1);
    // 29.5 s of silence in all: the quiet ones within the idle window, none looked at again.
    vi.advanceTimersByTime(IDLE_DEAD_MS - TICK - (Date.now() - placedAt) - 10_000);
    for (const n of quiet) expect(alive(co, n)).toBe(true);
    const hungLooks = d.visited - nodes.length; // once or twice (its bucket's tick may start before its deadline)
    expect(hungLooks).toBeGreaterThanOrEqual(1);
    expect(hungLooks).toBeLessThanOrEqual(2);
    for (const n of quiet) co.membership.seen(n);
    vi.advanceTimersByTime(2 * TICK);
    // Their idle deadline came: each looked at once more, found alive (it spoke) and filed again.
    for (const n of quiet) expect(alive(co, n)).toBe(true);
    expect(d.visited - hungLooks).toBe(2 * quiet.length + 1);
  });

  it('a node that said it was idle and then reports work is held to the short window from that report', () => {
    const { c: co, nodes } = world(10);
    const [n] = nodes;
    co.membership.heartbeat(n, { t: 'heartbeat', running: 0, queued: 0, storeBytes: 0, idle: true });
    vi.advanceTimersByTime(10_000);
    co.membership.heartbeat(n, { t: 'heartbeat', running: 1, queued: 0, storeBytes: 0 });
    const at = Date.now();
    vi.advanceTimersByTime(DEAD_MS + 2 * TICK + 1);
    expect(alive(co, n)).toBe(false);
    expect(Date.now() - at).toBeLessThan(IDLE_DEAD_MS / 2);
  });

  it('our own loop stalls past the window: no node is declared dead for it and no sweep walks the table; a node silent after the stall dies a window later', () => {
    const { c: co, nodes, failed } = world(1000);
    const [stillSilent, ...talking] = nodes;
    const walks = vi.spyOn(co.gcs.nodeTable, 'values');
    const walks2 = vi.spyOn(co.gcs.nodes, 'values');
    vi.advanceTimersByTime(2000);
    for (const n of nodes) co.membership.seen(n);
    // The loop is held 8 s (longer than the 5 s window): the clock moves, no timer runs.
    vi.setSystemTime(Date.now() + 8000);
    vi.advanceTimersByTime(TICK);
    const stallEnd = Date.now();
    // Every node was silent past its window, none by its own fault: all alive, and the stall's sweep walked nobody.
    for (const n of nodes) expect(alive(co, n)).toBe(true);
    expect(failed.size).toBe(0);
    // The others speak again; one stays silent: dead a heartbeat + window after the stall (within a tick), not before.
    for (let t = 0; t < DEAD_MS + 2 * HEARTBEAT_MS; t += HEARTBEAT_MS) {
      vi.advanceTimersByTime(HEARTBEAT_MS);
      for (const n of talking) co.membership.seen(n);
      if (Date.now() - stallEnd < DEAD_MS - HEARTBEAT_MS) expect(alive(co, stillSilent)).toBe(true);
    }
    expect(alive(co, stillSilent)).toBe(false);
    expect(failed).toEqual(new Set([stillSilent.name]));
    for (const n of talking) expect(alive(co, n)).toBe(true);
    expect(walks).not.toHaveBeenCalled();
    expect(walks2).not.toHaveBeenCalled();
  });
});
