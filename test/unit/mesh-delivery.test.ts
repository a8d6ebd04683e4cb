// The mesh bus's delivery (coordinator/mesh/delivery.ts, issue 14): two coordinators' streams over a channel that
// drops, duplicates and reorders messages (as pub/sub does across a reconnect, and worse) still deliver every message
// once, in order; past the bound the sender starts a new epoch and both sides hear that frames were lost for good.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ACK_MS, Delivery, SEQ_HEAD_BYTES, readSeqHead, type DeliveryLimits } from '../../coordinator/mesh/delivery.js';

/** A small seeded generator (mulberry32): the same losses every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Byte 0: 1 data, 2 ack, 3 nack; the head; a u32 payload. */
const HEAD_AT = 1;

interface Side {
  d: Delivery;
  got: number[];
  resets: string[];
}

/** Two sides `a` and `b`; `wire(from, m)` decides what reaches the other (in the order returned). */
function pair(wire: (to: 'a' | 'b', m: Buffer) => Buffer[], limits: DeliveryLimits = { frames: 10_000, bytes: 1 << 30 }) {
  const sides = {} as Record<'a' | 'b', Side>;
  const deliver = (to: 'a' | 'b', m: Buffer) => {
    if (!(to in sides)) return; // a third peer's (a test's own accept on one side)
    for (const x of wire(to, m)) {
      const s = sides[to];
      const from = to === 'a' ? 'b' : 'a';
      const h = readSeqHead(x, HEAD_AT);
      if (x[0] !== 1) s.d.acked(from, h, x[0] === 3);
      else if (s.d.accept(from, h)) s.got.push(x.readUInt32BE(HEAD_AT + SEQ_HEAD_BYTES));
    }
  };
  const make = (): Side => {
    const side: Side = { got: [], resets: [], d: undefined as unknown as Delivery };
    side.d = new Delivery(
      {
        publish: (to, m) => deliver(to as 'a' | 'b', Buffer.from(m)),
        control: (to, nack, ackEpoch, ack, inc, late) => {
          const m = Buffer.alloc(HEAD_AT + SEQ_HEAD_BYTES);
          m[0] = nack ? 3 : 2;
          m.writeUInt32BE(inc, HEAD_AT);
          m.writeUInt32BE(late ? 1 : 0, HEAD_AT + 4);
          m.writeUInt32BE(ackEpoch, HEAD_AT + 8);
          m.writeUInt32BE(ack, HEAD_AT + 12);
          deliver(to as 'a' | 'b', m);
        },
        reset: (peer) => side.resets.push(peer),
      },
      HEAD_AT,
      limits,
    );
    return side;
  };
  sides.a = make();
  sides.b = make();
  const send = (from: 'a' | 'b', n: number) => {
    const m = Buffer.alloc(HEAD_AT + SEQ_HEAD_BYTES + 4);
    m[0] = 1;
    m.writeUInt32BE(n, HEAD_AT + SEQ_HEAD_BYTES);
    sides[from].d.send(from === 'a' ? 'b' : 'a', m);
  };
  /** Hands `m` to `to` now, past the wire (a message held back arrives late). */
  const inject = (to: 'a' | 'b', m: Buffer) => {
    const s = sides[to];
    if (s.d.accept(to === 'a' ? 'b' : 'a', readSeqHead(m, HEAD_AT))) s.got.push(m.readUInt32BE(HEAD_AT + SEQ_HEAD_BYTES));
  };
  return { ...sides, send, inject, close: () => (sides.a.d.close(), sides.b.d.close()) };
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

let close: (() => void) | undefined;
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  close?.();
  close = undefined;
  vi.useRealTimers();
});

describe('mesh delivery', () => {
  it('a channel that drops bursts (reconnects), duplicates and reorders: every message arrives once, in order, both ways', async () => {
    const r = rng(7);
    const late: ['a' | 'b', Buffer][] = [];
    let outage = 0;
    const p = pair((to, m) => {
      if (outage > 0) {
        outage--;
        return []; // lost while the subscription is down
      }
      const x = r();
      if (x < 0.05) {
        outage = Math.floor(r() * 20);
        return [];
      }
      if (x < 0.1) return [m, m]; // twice
      if (x < 0.13) {
        late.push([to, m]); // overtaken by what follows
        return [];
      }
      return [m];
    });
    close = p.close;
    for (let i = 0; i < 500; i++) {
      p.send('a', i);
      if (i % 3 === 0) p.send('b', i);
      if (i % 20 === 0) {
        await vi.advanceTimersByTimeAsync(50);
        // What was held back arrives now, after newer ones.
        for (const [to, m] of late.splice(0)) p.inject(to, m);
      }
    }
    await vi.advanceTimersByTimeAsync(60_000);
    expect(p.b.got).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(p.a.got).toEqual(Array.from({ length: 167 }, (_, i) => i * 3));
    expect(p.a.d.kept('b')).toBe(0);
    expect(p.b.d.kept('a')).toBe(0);
    expect(p.a.resets.concat(p.b.resets)).toEqual([]);
    expect(p.a.d.counters.meshResent).toBeGreaterThan(0);
  });

  it('a receiver cut off for a while: nothing is lost, and what was sent before is not delivered twice', async () => {
    let down = false;
    const p = pair((_to, m) => (down ? [] : [m]));
    close = p.close;
    for (let i = 0; i < 10; i++) p.send('a', i);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    down = true;
    for (let i = 10; i < 30; i++) p.send('a', i);
    await vi.advanceTimersByTimeAsync(5_000);
    down = false;
    // Its subscription is back: it asks for what followed the last it took.
    p.b.d.resubscribed();
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect(p.b.got).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(p.a.d.kept('b')).toBe(0);
  });

  it('past the bound the sender drops what it kept and starts a new epoch: both sides hear it once, then deliver again', async () => {
    let down = false;
    const p = pair((_to, m) => (down ? [] : [m]), { frames: 5, bytes: 1 << 30 });
    close = p.close;
    p.send('a', 1);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    down = true;
    for (let i = 2; i <= 7; i++) p.send('a', i); // 2..6 kept, 7 overflows: dropped with them
    await vi.advanceTimersByTimeAsync(0);
    expect(p.a.resets).toEqual(['b']);
    expect(p.a.d.kept('b')).toBe(0);
    down = false;
    p.send('a', 8);
    p.send('a', 9);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect(p.b.resets).toEqual(['a']);
    expect(p.b.got).toEqual([1, 8, 9]);
    // A message of the old epoch that arrives late is void.
    const stale = Buffer.alloc(HEAD_AT + SEQ_HEAD_BYTES + 4);
    stale.writeUInt32BE(1, HEAD_AT);
    stale.writeUInt32BE(2, HEAD_AT + 4);
    expect(p.b.d.accept('a', readSeqHead(stale, HEAD_AT))).toBe(false);
  });

  it('a receiver forgets a stream of a peer with no record in the mesh; resumed, it goes on from its place: no frame twice, nothing ended', async () => {
    let toA = true;
    const p = pair((to, m) => (to === 'b' || toA ? [m] : []));
    close = p.close;
    for (let i = 1; i <= 5; i++) p.send('a', i);
    p.b.d.keep(new Set(), () => false);
    expect(p.b.d.hears('a')).toBe(true); // it owes an ack: kept until it is sent
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect(p.a.d.kept('b')).toBe(0);
    // a stalls: b takes 6 and 7, their ack is lost (a's subscription was cut).
    toA = false;
    p.send('a', 6);
    p.send('a', 7);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b')]).toEqual([upTo(7), 2]);
    // a's record is gone from the mesh (stalled past 60 s): b forgets its stream, keeping its place.
    p.b.d.keep(new Set(), () => false);
    expect(p.b.d.hears('a')).toBe(false);
    // a resumes: its timeout sends 6 and 7 again; b takes its record up from its place: duplicates, acked.
    toA = true;
    await vi.advanceTimersByTimeAsync(2_500);
    expect([p.b.got, p.a.d.kept('b'), p.b.d.counters.meshStreamsRestored]).toEqual([upTo(7), 0, 1]);
    p.send('a', 8);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b'), p.a.resets, p.b.resets]).toEqual([upTo(8), 0, [], []]);
  });

  it('a receiver whose every ack of a stream was lost forgets it; sent again from 1, it takes none twice', async () => {
    let toA = false; // no ack of b's reaches a
    const p = pair((to, m) => (to === 'b' || toA ? [m] : []));
    close = p.close;
    for (let i = 1; i <= 5; i++) p.send('a', i);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b')]).toEqual([upTo(5), 5]);
    p.b.d.keep(new Set(), () => false);
    expect(p.b.d.hears('a')).toBe(false);
    // a resumes: its timeout sends 1..5 again, from the stream's first frame.
    toA = true;
    await vi.advanceTimersByTimeAsync(2_500);
    expect([p.b.got, p.a.d.kept('b'), p.b.d.counters.meshDuplicates]).toEqual([upTo(5), 0, 5]);
    p.send('a', 6);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b'), p.a.resets, p.b.resets]).toEqual([upTo(6), 0, [], []]);
  });

  it('a forgotten stream whose sender started a new epoch: the old one ends as if never forgotten (its lost frames are not passed over)', async () => {
    let toB = true;
    const p = pair((to, m) => (to === 'a' || toB ? [m] : []));
    close = p.close;
    for (let i = 1; i <= 3; i++) p.send('a', i);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    // 4 and 5 are lost; b forgets a; a drops what it kept for b (b out of its live set for 60 s).
    toB = false;
    p.send('a', 4);
    p.send('a', 5);
    p.b.d.keep(new Set(), () => false);
    p.a.d.keep(new Set());
    await vi.advanceTimersByTimeAsync(60_000);
    p.a.d.keep(new Set());
    expect([p.b.d.hears('a'), p.a.d.kept('b')]).toEqual([false, 0]);
    toB = true;
    p.send('a', 6); // a new epoch's first frame: b ends its links with a, then takes it
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.b.resets, p.a.resets]).toEqual([[1, 2, 3, 6], ['a'], []]);
  });

  it('past the bound of forgotten streams the oldest place is dropped: resumed, that stream ends (no frame twice, none held for good)', async () => {
    let toA = true;
    const p = pair((to, m) => (to === 'b' || toA ? [m] : []), { frames: 10_000, bytes: 1 << 30, forgotten: 1 });
    close = p.close;
    for (let i = 1; i <= 5; i++) p.send('a', i);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    toA = false;
    p.send('a', 6);
    p.send('a', 7);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    p.b.d.keep(new Set(), () => false);
    // b forgets a third peer's stream after a's: a's place is dropped (one kept).
    expect(p.b.d.accept('c', { epoch: 1, seq: 1, ackEpoch: 0, ack: 0 })).toBe(true);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    p.b.d.keep(new Set(), () => false);
    expect([p.b.d.hears('a'), p.b.d.hears('c')]).toEqual([false, false]);
    // a resumes: b, with no place for it, asks from 1, less than it had acked: a ends the stream.
    toA = true;
    await vi.advanceTimersByTimeAsync(2_500);
    expect(p.b.got).toEqual(upTo(7));
    expect([p.a.resets, p.a.d.kept('b'), p.a.d.counters.meshResets, p.b.d.counters.meshStreamsRestored]).toEqual([['b'], 0, 1, 0]);
    // What a sends next opens a new epoch: b hears the old stream ended, and takes the new one in order.
    p.send('a', 8);
    p.send('a', 9);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect(p.b.got).toEqual(upTo(9));
    expect(p.b.resets).toEqual(['a']);
    expect(p.a.d.kept('b')).toBe(0);
    // c's place was kept: its stream goes on where it was.
    expect(p.b.d.accept('c', { epoch: 1, seq: 1, ackEpoch: 0, ack: 0 })).toBe(false);
    expect(p.b.d.accept('c', { epoch: 1, seq: 2, ackEpoch: 0, ack: 0 })).toBe(true);
  });

  it('with no place kept, the same when only its messages carried acks before it forgot (a busy link both ways)', async () => {
    let toA = true;
    const p = pair((to, m) => (to === 'b' || toA || m[0] === 1 ? [m] : []), { frames: 10_000, bytes: 1 << 30, forgotten: 0 });
    close = p.close;
    for (let i = 1; i <= 5; i++) {
      p.send('a', i);
      p.send('b', i); // carries b's ack of a's stream: no ack of its own leaves
    }
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.a.d.kept('b'), p.b.d.counters.meshAcksOut]).toEqual([0, 0]);
    toA = false; // b's own acks are lost from here
    p.send('a', 6);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    p.b.d.keep(new Set(), () => false);
    toA = true;
    await vi.advanceTimersByTimeAsync(2_500);
    expect([p.a.resets, p.b.got]).toEqual([['b'], [1, 2, 3, 4, 5, 6]]);
  });

  it('a late copy of an old nack (a publish sent again) ends nothing', async () => {
    let n = 0;
    const nacks: Buffer[] = [];
    const p = pair((to, m) => {
      if (to === 'a' && m[0] === 3) nacks.push(Buffer.from(m));
      return to === 'b' && m[0] === 1 && ++n === 2 ? [] : [m];
    });
    close = p.close;
    for (let i = 1; i <= 3; i++) p.send('a', i); // 2 lost: b asks from 2, a sends 2 and 3 again
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b'), nacks.length]).toEqual([[1, 2, 3], 0, 1]);
    p.a.d.acked('b', readSeqHead(nacks[0], HEAD_AT), true);
    p.send('a', 4);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.a.resets, p.b.resets, p.b.got]).toEqual([[], [], [1, 2, 3, 4]]);
  });

  it('a new stream whose first frame was lost is asked for again, not ended (a gap before any ack)', async () => {
    let drop = 1;
    const p = pair((to, m) => (to === 'b' && drop-- > 0 ? [] : [m]));
    close = p.close;
    p.send('a', 1); // lost
    p.send('a', 2); // a gap in a stream b never heard of: it asks from 1
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect(p.b.got).toEqual([1, 2]);
    expect(p.a.resets.concat(p.b.resets)).toEqual([]);
    expect(p.a.d.kept('b')).toBe(0);
  });

  it('an ack lost with nothing of ours going back: the frames sent again are acked again, not kept for good', async () => {
    let acks = false;
    const p = pair((to, m) => (to === 'b' || acks ? [m] : []));
    close = p.close;
    for (let i = 1; i <= 3; i++) p.send('a', i);
    await vi.advanceTimersByTimeAsync(ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b'), p.b.d.counters.meshAcksOut]).toEqual([[1, 2, 3], 3, 1]);
    acks = true;
    // a's timeout sends 1..3 again: b drops them as duplicates and says again that it has them.
    await vi.advanceTimersByTimeAsync(2_000 + ACK_MS + 100);
    expect([p.b.got, p.a.d.kept('b')]).toEqual([[1, 2, 3], 0]);
  });

  it("an ack for more than was sent, or of another epoch, drops nothing (a peer's word)", async () => {
    let down = true;
    const p = pair((_to, m) => (down ? [] : [m]));
    close = p.close;
    for (let i = 0; i < 3; i++) p.send('a', i);
    p.a.d.acked('b', { epoch: 0, seq: 0, ackEpoch: 1, ack: 99 }, false);
    p.a.d.acked('b', { epoch: 0, seq: 0, ackEpoch: 7, ack: 2 }, false);
    expect(p.a.d.kept('b')).toBe(3);
    down = false;
    // Sent again after the timeout (the tail's loss: nothing follows it to show a gap).
    await vi.advanceTimersByTimeAsync(3_000);
    expect(p.b.got).toEqual([0, 1, 2]);
  });
});
