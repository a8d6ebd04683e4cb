// Failure detection with keepalives (issue 14) on a simulated network: the
// real coordinator and real NodeRuntimes, a fake clock. Idle nodes send an
// empty frame every quietMs and are never declared dead for it; a node whose
// process hangs (its socket open, nothing sent) is declared dead within the
// dead window, as before; a busy node sends no heartbeat frames of its own.
// A node that said it holds nothing may keep quiet longer (the idle window);
// work placed on it starts the short window again.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { installNodeHasher } from '../../edge/node-hash.js';
import { decodeFrame } from '../../shared/protocol/frame.js';
import type { Session } from '../../coordinator/session.js';
import { SimMesh } from './cluster.js';
import { settle } from './clock.js';

installNodeHasher();

const HEARTBEAT_MS = 500;
const DEAD_AFTER_MS = 2500;

let sim: SimMesh | null = null;
afterEach(() => {
  sim?.close();
  sim = null;
  vi.useRealTimers();
});

/** Every frame the coordinator receives, by session: empty (a keepalive) or the kinds in it. */
function recordFrames(s: SimMesh): Map<Session, string[][]> {
  const frames = new Map<Session, string[][]>();
  const c = s.coordinator;
  const onFrame = c.onFrame.bind(c);
  c.onFrame = (session, data) => {
    let list = frames.get(session);
    if (!list) frames.set(session, (list = []));
    list.push(data.byteLength === 0 ? [] : decodeFrame(data).map((m) => m.t));
    onFrame(session, data);
  };
  return frames;
}

describe('failure detection with keepalives', () => {
  it('idle nodes live on keepalives for a minute; a hung node is declared dead within the dead window', async () => {
    vi.useFakeTimers({ now: 0 });
    // No idle window (idleDeadAfterMs not above deadAfterMs): every node keeps the short one, as before issue 14's idle window.
    sim = new SimMesh(7, [1, 5], { heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_AFTER_MS, idleDeadAfterMs: DEAD_AFTER_MS });
    const c = sim.coordinator;
    expect(c.membership.idleQuietMs).toBeUndefined();
    const frames = recordFrames(sim);
    const a = await settle(sim.addNode(1, 'a'), 5000, 'a joining');
    const b = await settle(sim.addNode(1, 'b'), 5000, 'b joining');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.gcs.nodes.size).toBe(2);
    const quiet = c.membership.quietMs;
    for (const n of [a, b]) {
      const fs = frames.get(n.socket.session!)!;
      const keepalives = fs.filter((f) => f.length === 0).length;
      // One empty frame per quietMs, give or take; load reports only while the load changed (joining).
      expect(keepalives).toBeGreaterThan(60_000 / quiet - 5);
      expect(keepalives).toBeLessThan(60_000 / quiet + 5);
      expect(fs.filter((f) => f.includes('heartbeat')).length).toBeLessThan(5);
    }
    // a hangs: its socket stays open, nothing more comes from it.
    a.socket.send = () => {};
    const hungAt = Date.now();
    // Silent for less than the window (counting from its last frame, at most quietMs before): still alive.
    await vi.advanceTimersByTimeAsync(DEAD_AFTER_MS - quiet - 100);
    expect(c.gcs.nodes.has(a.runtime.nodeId as never)).toBe(true);
    await vi.advanceTimersByTimeAsync(quiet + HEARTBEAT_MS + 200);
    expect(c.gcs.nodes.has(a.runtime.nodeId as never)).toBe(false);
    expect(Date.now() - hungAt).toBeLessThanOrEqual(DEAD_AFTER_MS + HEARTBEAT_MS + 100);
    expect(c.gcs.events.some((e) => e.kind === 'node-lost' && e.node === a.runtime.nodeId && /no heartbeat/.test(e.message))).toBe(true);
    expect(c.gcs.nodes.has(b.runtime.nodeId as never)).toBe(true);
  });

  it('nodes holding nothing keep quiet for the idle window; a hung one is dead within it, and within the short window once work is placed on it', async () => {
    vi.useFakeTimers({ now: 0 });
    const IDLE_DEAD_MS = 15_000;
    sim = new SimMesh(9, [1, 5], { heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_AFTER_MS, idleDeadAfterMs: IDLE_DEAD_MS });
    const c = sim.coordinator;
    const idleQuiet = c.membership.idleQuietMs!;
    // Half the idle window (a third before session 19: a third fewer keepalives).
    expect(idleQuiet).toBe(IDLE_DEAD_MS / 2);
    const frames = recordFrames(sim);
    const a = await settle(sim.addNode(1, 'a'), 5000, 'a joining');
    const b = await settle(sim.addNode(1, 'b'), 5000, 'b joining');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.gcs.nodes.size).toBe(2);
    for (const n of [a, b]) {
      const fs = frames.get(n.socket.session!)!;
      const keepalives = fs.filter((f) => f.length === 0).length;
      // A few at the short quiet until the idle report went out, then one per idleQuietMs.
      expect(keepalives).toBeLessThan(60_000 / idleQuiet + 5);
      expect(c.gcs.nodes.get(n.runtime.nodeId as never)?.saidIdle).toBe(true);
    }
    // a hangs while holding nothing: dead within the idle window.
    a.socket.send = () => {};
    const hungAt = Date.now();
    await vi.advanceTimersByTimeAsync(IDLE_DEAD_MS - idleQuiet - 100);
    expect(c.gcs.nodes.has(a.runtime.nodeId as never)).toBe(true);
    await vi.advanceTimersByTimeAsync(idleQuiet + HEARTBEAT_MS + 200);
    expect(c.gcs.nodes.has(a.runtime.nodeId as never)).toBe(false);
    expect(Date.now() - hungAt).toBeLessThanOrEqual(IDLE_DEAD_MS + HEARTBEAT_MS + 100);
    // b, quiet for up to idleQuietMs, hangs; then a task is placed on it: dead within the short window from then.
    b.socket.send = () => {};
    const m = await settle(sim.driver(), 5000, 'the driver');
    const ref = m.remote((x: number) => x).remote(1);
    const nb = c.gcs.nodes.get(b.runtime.nodeId as never)!;
    for (let i = 0; i < 50 && nb.tasks.size === 0; i++) await vi.advanceTimersByTimeAsync(10);
    expect(nb.tasks.size).toBe(1);
    const placedAt = Date.now();
    await vi.advanceTimersByTimeAsync(DEAD_AFTER_MS + HEARTBEAT_MS + 200);
    expect(c.gcs.nodes.has(b.runtime.nodeId as never)).toBe(false);
    expect(Date.now() - placedAt).toBeLessThan(IDLE_DEAD_MS / 2);
    void ref;
  });

  it('a busy node sends no heartbeat frame of its own; the coordinator still learns its load', async () => {
    vi.useFakeTimers({ now: 0 });
    sim = new SimMesh(11, [1, 5], { heartbeatMs: HEARTBEAT_MS, deadAfterMs: DEAD_AFTER_MS });
    const c = sim.coordinator;
    const frames = recordFrames(sim);
    const a = await settle(sim.addNode(2, 'a'), 5000, 'a joining');
    const m = await settle(sim.driver(), 5000, 'the driver');
    const work = m.remote(async (i: number) => {
      await new Promise((r) => setTimeout(r, 50));
      return i;
    });
    const session = a.socket.session!;
    const before = frames.get(session)!.length;
    const out = await settle(m.get(Array.from({ length: 200 }, (_, i) => work.remote(i))), 60_000, 'the job');
    expect(out[199]).toBe(199);
    const during = frames.get(session)!.slice(before);
    // Every frame carried task traffic; load reports rode along in some of them.
    expect(during.filter((f) => f.length === 0 || f.every((t) => t === 'heartbeat')).length).toBeLessThanOrEqual(1);
    expect(during.filter((f) => f.includes('heartbeat')).length).toBeGreaterThan(0);
    // Idle again: its load says so within a couple of ticks.
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS);
    expect(c.gcs.nodes.get(a.runtime.nodeId as never)?.load).toMatchObject({ running: 0, queued: 0 });
    await settle(m.close(), 5000, 'the driver closing');
  });
});
