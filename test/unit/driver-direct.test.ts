// A driver's side of direct submission (shared/api/driver-direct.ts, issue 14): at most
// DIRECT_MAX_IN_FLIGHT tasks in flight to leased nodes. A batch submitted in one turn
// finds them in flight once: nothing can answer them before the turn ends, so the rest
// of its submits go to the coordinator without looking the in-flight results up again.
// A sequential run asks the coordinator for a receipt once per 32 direct tasks, and its
// records ride frames that leave at most every 8 ms (issue 14, session 24: each frame
// to the coordinator was a write of ~100-150 µs on the driver and a wake-up there).
import { describe, expect, it, vi } from 'vitest';
import { DriverDirect } from '../../shared/api/driver-direct.js';
import { decodeFrame, Outbox } from '../../shared/protocol/frame.js';
import { newJobId, newNodeId, returnObjectId, type ObjectId } from '../../shared/ids.js';
import { taskSpec } from '../helpers/task-record.js';
import { DIRECT_MAX_IN_FLIGHT } from '../../shared/protocol/direct.js';
import type { FunctionSource, Msg, TaskSpec } from '../../shared/protocol/messages.js';
import type { PeerLinks } from '../../shared/transfer/links.js';

const job = newJobId();
const fn: FunctionSource = { fnId: 'f'.repeat(32) as FunctionSource['fnId'], kind: 'function', name: 'noop', source: 'function noop() {}' };

const spec = (i: number): TaskSpec => taskSpec(job, i, 'noop', { fnId: fn.fnId, maxRetries: 3, scheduling: undefined });

function driver(receipt: (received: () => void) => void = () => {}) {
  const sent: Uint8Array[] = [];
  const links = { sendDirect: (_peer: string, b: Uint8Array) => (sent.push(b), true) } as unknown as PeerLinks;
  const looked: ObjectId[] = [];
  const pushed: Msg[] = [];
  const d = new DriverDirect(
    links,
    () => fn,
    (id) => (looked.push(id), true), // every result still awaited
    (m) => pushed.push(m),
    receipt,
  );
  d.lease({ t: 'lease', peer: 'a'.repeat(16), on: true } as never);
  return { d, sent, looked, pushed };
}

describe("a driver's direct submissions", () => {
  it('a batch of 100 submits in one turn: 4 go straight to the node, the others look the in-flight results up once', async () => {
    const { d, sent, looked } = driver();
    const to = [];
    for (let i = 0; i < 100; i++) to.push(d.send(spec(i)));
    expect(to.filter((x) => x !== undefined)).toHaveLength(DIRECT_MAX_IN_FLIGHT);
    expect(sent).toHaveLength(DIRECT_MAX_IN_FLIGHT);
    expect(looked).toHaveLength(DIRECT_MAX_IN_FLIGHT);
    // A later turn looks again: a result may have been answered or released meanwhile.
    await Promise.resolve();
    expect(d.send(spec(100))).toBeUndefined();
    expect(looked).toHaveLength(2 * DIRECT_MAX_IN_FLIGHT);
  });

  it('a sequential run of 256 direct tasks, each answered before the next: one receipt asked per 32 tasks, every task sent straight', async () => {
    let receipts = 0;
    const { d } = driver((received) => {
      receipts++;
      received(); // the coordinator echoes at once
    });
    const peer = 'a'.repeat(16);
    let direct = 0;
    for (let i = 0; i < 256; i++) {
      const s = spec(i);
      if (d.send(s) !== undefined) direct++;
      await Promise.resolve(); // the receipt is asked in a microtask
      expect(d.answeredBy(s.taskId, peer)).toBe(true);
    }
    expect(direct).toBe(256);
    expect(receipts).toBeGreaterThan(0);
    expect(receipts).toBeLessThanOrEqual(256 / 32);
  });

  it('a coordinator that echoes no receipt: the driver runs 64 direct tasks ahead of its records, then sends through the coordinator', async () => {
    const { d } = driver();
    const peer = 'a'.repeat(16);
    let direct = 0;
    for (let i = 0; i < 100; i++) {
      const s = spec(i);
      if (d.send(s) !== undefined) {
        direct++;
        expect(d.answeredBy(s.taskId, peer)).toBe(true);
      }
      await Promise.resolve();
    }
    expect(direct).toBe(64);
    expect(d.counts.unrecorded).toBe(100 - 64);
  });

  it("a node's refusal that comes after the task's result (the coordinator placed it there first) is counted late and asks nothing", () => {
    const { d, pushed } = driver();
    const peer = 'a'.repeat(16);
    const [early, late] = [spec(0), spec(1)];
    expect(d.send(early)).toBe(peer);
    expect(d.send(late)).toBe(peer);
    d.onLink(peer, { k: 'refuse', taskId: early.taskId, reason: 'this node holds no lease of job x' });
    expect(d.answeredBy(late.taskId, peer)).toBe(true); // its value came by the node's shortcut
    d.onLink(peer, { k: 'refuse', taskId: late.taskId, reason: 'this node holds no lease of job x' });
    expect(d.counts).toMatchObject({ sent: 2, refused: 1, refusedLate: 1 });
    expect(pushed.filter((m) => m.t === 'unplaced').map((m) => m.t === 'unplaced' && m.taskId)).toEqual([early.taskId]);
  });

  it("a direct task's subscribe taken back before its frame leaves is not sent; one merged into another subscribe is not found", () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const frames: Uint8Array[] = [];
      const out = new Outbox((f) => frames.push(f), undefined, undefined, true);
      const to = newNodeId();
      const ids = [0, 1, 2].map((i) => returnObjectId(spec(i).taskId, 0));
      out.later({ t: 'submit', spec: spec(0), to });
      const sub: Msg = { t: 'subscribe', ids: [ids[0]] };
      out.later(sub);
      expect(out.withdraw(sub)).toBe(true);
      expect(out.withdraw(sub)).toBe(false);
      const a: Msg = { t: 'subscribe', ids: [ids[1]] };
      out.later(a);
      out.later({ t: 'subscribe', ids: [ids[2]] }); // merged: `a` is replaced by a copy holding both
      expect(out.withdraw(a)).toBe(false);
      vi.advanceTimersByTime(8);
      expect(frames).toHaveLength(1);
      expect(decodeFrame(frames[0]).map((m) => (m.t === 'subscribe' ? m.ids : m.t))).toEqual(['submit', [ids[1], ids[2]]]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a driver's direct records queued `later` 0.3 ms apart (a sequential round trip) leave together within 8 ms, not in a frame every 2 ms", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const frames: Uint8Array[] = [];
      const out = new Outbox((f) => frames.push(f), undefined, undefined, true);
      const to = newNodeId();
      for (let i = 0; i < 20; i++) {
        out.later({ t: 'submit', spec: spec(i), to });
        vi.advanceTimersByTime(0.3);
      }
      expect(frames).toHaveLength(0);
      vi.advanceTimersByTime(8);
      expect(frames).toHaveLength(1);
      expect(decodeFrame(frames[0]).map((m) => m.t)).toEqual(new Array(20).fill('submit'));
    } finally {
      vi.useRealTimers();
    }
  });
});
