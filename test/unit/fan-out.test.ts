// The holder decides (issue 17, session 14): its word to each reader of an
// object (fan-out.ts), the word on the wire and its validation, a reader's
// policy when a holder lies about its load, and a node's upload cap.
import { PeerLinks } from '../../shared/transfer/links.js';
import { describe, expect, it } from 'vitest';
import type { ObjectId } from '../../shared/ids.js';
import { FAN_STREAM, FAN_STREAMS, FAN_SWARM, FanOut } from '../../shared/transfer/fan-out.js';
import { readMessage, writeControl, type Control } from '../../shared/transfer/wire.js';
import { newSource } from '../../shared/transfer/swarm-source.js';
import { keepsUp, nodeFirst, streamedTo } from '../../shared/transfer/swarm-policy.js';
import { UploadCap, uploadCapOf } from '../../shared/transfer/upload-cap.js';

const OBJ = 'ab'.repeat(20) as ObjectId;
const OTHER = 'cd'.repeat(20) as ObjectId;

/** A control message as a peer might send it, any fields. */
const raw = (c: Record<string, unknown>) => writeControl(c as unknown as Control);

describe("a holder's word to the readers of one object", () => {
  it('streams to the first FAN_STREAMS readers, tells the rest to swarm; per object', () => {
    const fan = new FanOut();
    const words = ['r0', 'r1', 'r2', 'r3'].map((p, i) => fan.word(OBJ, p, false, 1000 + i));
    expect(words).toEqual([FAN_STREAM, FAN_STREAM, FAN_SWARM, FAN_SWARM]);
    // Asked again, each keeps its word; another object has its own readers.
    expect(fan.word(OBJ, 'r0', false, 1010)).toBe(FAN_STREAM);
    expect(fan.word(OBJ, 'r3', false, 1010)).toBe(FAN_SWARM);
    expect(fan.word(OTHER, 'r3', false, 1010)).toBe(FAN_STREAM);
    expect(fan.said).toEqual({ stream: 4, swarm: 3, streamToNodes: 0, fill: 0 });
    expect(FAN_STREAMS).toBe(2);
  });

  it('a Node peer over a stream link (a relay) outranks tabs: a tab streamed to hears FAN_SWARM with its next request', () => {
    const fan = new FanOut();
    expect(fan.word(OBJ, 'tab0', false, 0)).toBe(FAN_STREAM);
    expect(fan.word(OBJ, 'tab1', false, 1)).toBe(FAN_STREAM);
    expect(fan.word(OBJ, 'edge0', true, 2)).toBe(FAN_STREAM);
    expect(fan.word(OBJ, 'edge1', true, 3)).toBe(FAN_STREAM);
    expect(fan.word(OBJ, 'tab0', false, 4)).toBe(FAN_SWARM);
    expect(fan.word(OBJ, 'tab1', false, 5)).toBe(FAN_SWARM);
  });

  it('readers whose requests are read in one millisecond (a busy holder) are ranked in the order they asked: two streamed, not all', () => {
    // Ranked by the time they first asked, all four tied and all were streamed to (clean-clone CI, session 15).
    const fan = new FanOut();
    const words = ['e0', 'e1', 'e2', 'e3'].map((p) => fan.word(OBJ, p, true, 5000));
    expect(words).toEqual([FAN_STREAM, FAN_STREAM, FAN_SWARM, FAN_SWARM]);
    expect(['e3', 'e2', 'e1', 'e0'].map((p) => fan.word(OBJ, p, true, 5000))).toEqual([FAN_SWARM, FAN_SWARM, FAN_STREAM, FAN_STREAM]);
    expect(fan.said).toEqual({ stream: 4, swarm: 4, streamToNodes: 4, fill: 0 });
  });

  it("once an object's readers asked for FAN_STREAMS copies, every reader is told to swarm (a late edge too); a new wave starts over", () => {
    const fan = new FanOut();
    const t0 = fan.reader(OBJ, 'tab0', false, 0, 100)!;
    const t1 = fan.reader(OBJ, 'tab1', false, 1, 100)!;
    expect([t0.word, t1.word]).toEqual([FAN_STREAM, FAN_STREAM]);
    t0.asked = 100;
    t1.asked = 60;
    expect(fan.word(OBJ, 'edge0', true, 2, 100)).toBe(FAN_STREAM); // 160 asked of 200
    fan.reader(OBJ, 'edge0', true, 3, 100)!.asked = 40;
    expect(fan.word(OBJ, 'edge0', true, 4, 100)).toBe(FAN_SWARM);
    expect(fan.word(OBJ, 'tab1', false, 5, 100)).toBe(FAN_SWARM);
    // All idle for 2 s: a new reader starts a new wave, what was asked before no longer counts.
    expect(fan.word(OBJ, 'edge1', true, 5000, 100)).toBe(FAN_STREAM);
  });

  it('a Node reader that outranks tabs streamed to (they asked bytes) is told to fill; readers streamed together, or edges first, are not', () => {
    // Session 15: late edges outranked half-streamed tabs and were streamed whole copies besides (2.55-2.60 over WebRTC).
    const fan = new FanOut();
    const t0 = fan.reader(OBJ, 'tab0', false, 0, 100)!;
    const t1 = fan.reader(OBJ, 'tab1', false, 1, 100)!;
    t0.asked = 30;
    t1.asked = 30;
    expect([fan.reader(OBJ, 'tab0', false, 2, 100)!.fill, fan.reader(OBJ, 'tab1', false, 2, 100)!.fill]).toEqual([false, false]);
    const e0 = fan.reader(OBJ, 'edge0', true, 3, 100)!;
    expect([e0.word, e0.fill]).toEqual([FAN_STREAM, true]);
    // A second edge fills too; then the tabs hear FAN_SWARM.
    const e1 = fan.reader(OBJ, 'edge1', true, 4, 100)!;
    expect([e1.word, e1.fill]).toEqual([FAN_STREAM, true]);
    expect(fan.word(OBJ, 'tab0', false, 5, 100)).toBe(FAN_SWARM);
    expect(fan.said.fill).toBe(2);
    // Edges first, tabs later: nobody fills (and a tab that asked nothing yet is outranked without a fill).
    const first = new FanOut();
    first.reader(OBJ, 'tab0', false, 0, 100);
    expect(first.reader(OBJ, 'edge0', true, 1, 100)!.fill).toBe(false);
    expect(first.reader(OBJ, 'edge1', true, 2, 100)!.fill).toBe(false);
    first.reader(OBJ, 'tab1', false, 3, 100);
    expect(first.said.fill).toBe(0);
  });

  it('a reader that stopped asking (2 s) frees its place; pruned readers are forgotten', () => {
    const fan = new FanOut();
    fan.word(OBJ, 'r0', false, 0);
    fan.word(OBJ, 'r1', false, 0);
    expect(fan.word(OBJ, 'r2', false, 100)).toBe(FAN_SWARM);
    expect(fan.word(OBJ, 'r2', false, 2500)).toBe(FAN_STREAM);
    fan.prune(10_000);
    expect((fan as unknown as { count: number }).count).toBe(0);
  });

  it('a holder that says no word (an older build, or turned off) says 0', () => {
    const fan = new FanOut();
    fan.speaks = false;
    expect(fan.word(OBJ, 'r0', true, 0)).toBe(0);
  });
});

describe('the word on the wire', () => {
  it('a request carries `f` only as true; a `fan` control carries a known word or the message is refused', () => {
    expect(readMessage(raw({ k: 'req', x: 1, id: OBJ, v: 2, f: true })).control).toMatchObject({ k: 'req', f: true });
    expect(readMessage(raw({ k: 'req', x: 1, id: OBJ, v: 2, f: 'yes' })).control).not.toHaveProperty('f');
    expect(readMessage(raw({ k: 'fan', x: 3, m: FAN_SWARM })).control).toEqual({ k: 'fan', x: 3, m: FAN_SWARM });
    expect(readMessage(raw({ k: 'fan', x: 3, m: FAN_STREAM, extra: 'dropped' })).control).toEqual({ k: 'fan', x: 3, m: FAN_STREAM });
    // Fill (session 16) only as true.
    expect(readMessage(raw({ k: 'fan', x: 3, m: FAN_STREAM, r: true })).control).toEqual({ k: 'fan', x: 3, m: FAN_STREAM, r: true });
    expect(readMessage(raw({ k: 'fan', x: 3, m: FAN_STREAM, r: 1 })).control).toEqual({ k: 'fan', x: 3, m: FAN_STREAM });
    for (const bad of [
      { k: 'fan', x: 3 },
      { k: 'fan', x: 3, m: 0 },
      { k: 'fan', x: 3, m: 3 },
      { k: 'fan', x: 3, m: '1' },
      { k: 'fan', x: -1, m: 1 },
    ])
      expect(() => readMessage(raw(bad))).toThrow(/bad control message/);
  });
});

describe("a reader's policy under a holder's word (swarm-policy.ts)", () => {
  const holder = (word: 0 | 1 | 2, got: number, busyMs: number) => {
    const s = newSource('origin', true, 16, 4, 4);
    Object.assign(s, { node: true, word, got, busyMs });
    return s;
  };
  const MiB = 1 << 20;

  it('FAN_SWARM turns at once; FAN_STREAM keeps a reader that gets 2 MiB/s (its own guess would turn below 5)', () => {
    expect(keepsUp(holder(FAN_SWARM, 0, 0), 0)).toBe(false);
    expect(keepsUp(holder(FAN_STREAM, 4 * MiB, 2000), 0)).toBe(true);
    expect(keepsUp(holder(0, 4 * MiB, 2000), 0)).toBe(false);
    expect(nodeFirst([holder(FAN_STREAM, 4 * MiB, 2000)], 0)).toBe(true);
    expect(streamedTo([holder(FAN_STREAM, 0, 0)])).toBe(true);
    expect(streamedTo([holder(0, 0, 0)])).toBe(false);
  });

  it('a holder that says FAN_STREAM but trickles (0.25 MiB/s) is left: a lie about its load cannot hold a reader', () => {
    expect(keepsUp(holder(FAN_STREAM, MiB / 2, 2000), 0)).toBe(false);
    expect(nodeFirst([holder(FAN_STREAM, MiB / 2, 2000)], 0)).toBe(false);
    // A dropped holder (it stalled) is no reason to keep to Node sources, whatever it said.
    const gone = holder(FAN_STREAM, 4 * MiB, 100);
    gone.dropped = true;
    expect(nodeFirst([gone], 0)).toBe(false);
  });
});

describe("a node's upload cap", () => {
  it('paces sends at the rate after a burst of 20 ms; bad caps are refused', () => {
    const cap = new UploadCap(1); // 1 MiB/s: 1048.576 bytes per ms
    expect(cap.wait(1000)).toBe(0);
    cap.spent(64 * 1024, 1000); // 62.5 ms worth
    expect(cap.wait(1000)).toBeCloseTo(62.5 - 20, 1); // the burst paid 20 ms of it
    expect(cap.wait(1100)).toBe(0);
    cap.spent(1024, 5000); // after an idle spell, no credit beyond the burst
    expect(cap.wait(5000)).toBe(0);
    expect(uploadCapOf(undefined)).toBeNull();
    for (const bad of [0, -1, NaN, Infinity, '5']) expect(() => uploadCapOf(bad)).toThrow(/upload cap|must be a number/);
  });

  it("a cap changed while links serve (a volunteer's setting): the next wait is at the new rate; 0 is none", () => {
    const cap = new UploadCap(1);
    cap.spent(64 * 1024, 1000);
    cap.set(2); // 2 MiB/s: what was sent stays paid for at 1 MiB/s, the next chunk at 2
    expect(cap.wait(1000)).toBeCloseTo(62.5 - 20, 1);
    cap.spent(64 * 1024, 1100);
    expect(cap.wait(1100)).toBeCloseTo(31.25 - 20, 1);
    expect(() => cap.set(-1)).toThrow(/upload cap/);
    const links = new PeerLinks({ factory: () => ({}) as never, self: () => 'a', sendSignal: () => {}, lookup: () => Promise.resolve(undefined) });
    try {
      expect(links.upload).toBeNull();
      links.setUploadCap(2);
      const first = links.upload!;
      expect(first.bytesPerMs).toBeCloseTo((2 * 1024 * 1024) / 1000);
      links.setUploadCap(0.5);
      expect(links.upload).toBe(first); // the same pacing clock, at the new rate
      expect(first.bytesPerMs).toBeCloseTo((0.5 * 1024 * 1024) / 1000);
      links.setUploadCap(0);
      expect(links.upload).toBeNull();
    } finally {
      links.stop();
    }
  });
});
