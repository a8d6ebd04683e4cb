// The mesh's signal relay as one box (coordinator/mesh/signal-relay.ts, issue
// 15): signals cross between two relays wired back to back, malformed or
// undeliverable ones are refused, and a locate waits for the other
// coordinators' holders no longer than its bound.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { REMOTE_LOCATE_MS, SignalRelay, type MeshPorts } from '../../coordinator/mesh/signal-relay.js';
import { Signalling } from '../../coordinator/signal/signal.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { Session } from '../../coordinator/session.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import type { ObjectId } from '../../shared/ids.js';

const A = 'a'.repeat(16);
const B = 'b'.repeat(16);
const NODE_A = '1'.repeat(16);
const NODE_B = '2'.repeat(16);
const OBJ = 'ab'.repeat(20) as ObjectId;

function session(role: 'node' | 'driver', extra: Partial<Session> = {}): Session & { got: Msg[] } {
  const got: Msg[] = [];
  return { role, closed: false, peerless: false, got, send: (m: Msg) => void got.push(m), ...extra } as unknown as Session & { got: Msg[] };
}

/** A relay for coordinator `self` whose peers are `peers` (peer id → session). */
function relay(peers: Map<string, Session>, ports: Partial<MeshPorts> = {}): SignalRelay {
  const signalling = { sessionOf: (p: string) => peers.get(p) } as unknown as Signalling;
  return new SignalRelay(signalling, { sendSignal: () => {}, askAsNode: () => false, coordinatorOf: () => undefined, ...ports });
}

afterEach(() => {
  vi.useRealTimers();
});

describe('signals between coordinators', () => {
  it("a node's signal crosses to the other coordinator's node, stamped with its sender; the reply finds its way back by the learned route", () => {
    const nodeA = session('node');
    const nodeB = session('node');
    const on = new Map<string, SignalRelay>();
    const wire = (self: string) => (to: string, p: Uint8Array) => on.get(to)?.deliver(self, p);
    const ra = relay(new Map([[NODE_A, nodeA]]), { sendSignal: wire(A) });
    const rb = relay(new Map([[NODE_B, nodeB]]), { sendSignal: wire(B) });
    on.set(A, ra).set(B, rb);
    rb.forward(A, nodeB, NODE_B, NODE_A, '{"g":"x","s":{"type":"offer","sdp":"é"}}');
    expect(nodeA.got).toEqual([{ t: 'signal', peer: NODE_B, data: '{"g":"x","s":{"type":"offer","sdp":"é"}}' }]);
    expect(ra.route(NODE_B)).toBe(B);
    ra.forward(ra.route(NODE_B)!, nodeA, NODE_A, NODE_B, 'answer');
    expect(nodeB.got).toEqual([{ t: 'signal', peer: NODE_A, data: 'answer' }]);
    expect(ra.counters).toMatchObject({ meshSignalsIn: 1, meshSignalsOut: 1, meshSignalsRefused: 0 });
  });

  it('malformed payloads, unknown or peerless targets, a coordinator session and driver-to-driver are refused and deliver nothing', () => {
    const node = session('node');
    const driver = session('driver');
    const tab = session('node', { peerless: true });
    const link = session('node');
    const peers = new Map<string, Session>([
      [NODE_A, node],
      ['3'.repeat(16), driver],
      ['4'.repeat(16), tab],
      ['5'.repeat(16), link],
    ]);
    const r = relay(peers, { coordinatorOf: (s) => (s === link ? B : undefined) });
    const frame = (from: string, to: string, role: number, text: string) =>
      new Uint8Array(Buffer.concat([Buffer.from(from, 'latin1'), Buffer.from(to, 'latin1'), Buffer.from([role]), Buffer.from(text)]));
    const bad = [
      new Uint8Array(0),
      new Uint8Array(10),
      frame(NODE_B, NODE_A, 0x6e, ''), // no text
      frame('ZZ'.repeat(8), NODE_A, 0x6e, 'x'),
      frame(NODE_B, 'not-a-peer-id!!!', 0x6e, 'x'),
      frame(NODE_B, NODE_A, 0x78, 'x'), // unknown role
      frame(NODE_B, '9'.repeat(16), 0x6e, 'x'), // no such peer
      frame(NODE_B, '4'.repeat(16), 0x6e, 'x'), // takes no peer links
      frame(NODE_B, '5'.repeat(16), 0x6e, 'x'), // another coordinator
      frame(NODE_B, '3'.repeat(16), 0x64, 'x'), // driver to driver
      frame(NODE_B, NODE_A, 0x6e, 'x'.repeat(70_000)),
    ];
    for (const f of bad) r.deliver(B, f);
    expect(r.counters.meshSignalsRefused).toBe(bad.length);
    expect(r.counters.meshSignalsIn).toBe(0);
    expect([node, driver, tab, link].every((s) => (s as unknown as { got: Msg[] }).got.length === 0)).toBe(true);
    expect(r.route(NODE_B)).toBeUndefined();
    r.deliver(B, frame(NODE_B, '3'.repeat(16), 0x6e, 'ok')); // a node to a driver is fine
    expect((driver as unknown as { got: Msg[] }).got).toHaveLength(1);
  });
});

describe('holder lookup across coordinators', () => {
  const locate = (x: number): MsgOf<'locate'> => ({ t: 'locate', id: OBJ, x });

  it("answers with the local holders and every coordinator's once all answered, and learns where those peers are", () => {
    const asked: [string, MsgOf<'locate'>][] = [];
    const r = relay(new Map(), { askAsNode: (to, m) => (asked.push([to, m]), true) });
    const reader = session('node');
    r.locate(reader, locate(7), [], ['8'.repeat(16)], [A, A, B]);
    expect(asked.map(([to]) => to)).toEqual([A, B]); // once per coordinator
    expect(asked[0][1].asker).toBeUndefined(); // a node reads
    const x = asked[0][1].x;
    r.located(A, { t: 'located', x, peers: [NODE_A], partial: ['6'.repeat(16)] });
    expect(reader.got).toHaveLength(0);
    r.located(A, { t: 'located', x, peers: ['7'.repeat(16)] }); // a second answer from A counts for nothing
    r.located(B, { t: 'located', x, peers: [] });
    expect(reader.got).toEqual([{ t: 'located', x: 7, peers: [NODE_A], partial: ['8'.repeat(16), '6'.repeat(16)] }]);
    expect([r.route(NODE_A), r.route('6'.repeat(16)), r.route('7'.repeat(16))]).toEqual([A, A, undefined]);
  });

  it('a coordinator that does not answer costs the reader the bound, no more; one not linked yet costs nothing', () => {
    vi.useFakeTimers();
    const r = relay(new Map(), { askAsNode: (to) => to === A });
    const reader = session('node');
    r.locate(reader, locate(1), [], [], [B]);
    expect(reader.got).toEqual([{ t: 'located', x: 1, peers: [], partial: [] }]);
    r.locate(reader, locate(2), [], [], [A]);
    vi.advanceTimersByTime(REMOTE_LOCATE_MS - 1);
    expect(reader.got).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(reader.got[1]).toEqual({ t: 'located', x: 2, peers: [], partial: [] });
    expect(r.counters.meshLocatesLate).toBe(1);
  });

  it('an object with a holder attached here is answered at once: no other coordinator is asked, nothing waits', () => {
    const asked: string[] = [];
    const r = relay(new Map(), { askAsNode: (to) => (asked.push(to), true) });
    const reader = session('node');
    r.locate(reader, locate(3), [NODE_B], [], [A]);
    expect(reader.got).toEqual([{ t: 'located', x: 3, peers: [NODE_B], partial: [] }]);
    expect(asked).toEqual([]);
    expect(r.counters.meshLocates).toBe(0);
  });

  it("a driver's locate goes on as a driver's: the other coordinator names no driver holder, a node's and the driver's own are named", () => {
    const asked: MsgOf<'locate'>[] = [];
    const r = relay(new Map(), { askAsNode: (_to, m) => (asked.push(m), true) });
    r.locate(session('driver'), locate(4), [], [], [A]);
    expect(asked[0]).toMatchObject({ t: 'locate', id: OBJ, asker: 'driver' });
    // On the other coordinator: its driver holding the object is left out for that asker, its node is not.
    const holderDriver = session('driver', { jobId: '3'.repeat(16) as never });
    const holderNode = session('node', { nodeId: NODE_A as never });
    const link = session('node', { nodeId: '5'.repeat(16) as never });
    const o = { id: OBJ, state: 'ready', locations: new Set([holderDriver, holderNode]) };
    const gcs = { objects: new Map([[OBJ, o]]), nodes: new Map(), jobs: new Map() } as unknown as Gcs;
    const other = new Signalling(gcs, false);
    other.locate(link, asked[0]);
    other.locate(link, { t: 'locate', id: OBJ, x: 9 });
    expect(link.got).toEqual([
      { t: 'located', x: asked[0].x, peers: [NODE_A], partial: [] },
      { t: 'located', x: 9, peers: expect.arrayContaining([NODE_A, '3'.repeat(16)]) as string[], partial: [] },
    ]);
  });
});

describe('signals to a peer that left (issue 17)', () => {
  it('the sender is told the target is unreachable; a signal to a live node is delivered and tells nothing', () => {
    const live = session('node', { nodeId: NODE_A } as Partial<Session>);
    const gone = session('node', { nodeId: NODE_B, closed: true } as Partial<Session>);
    const sender = session('node', { nodeId: '6'.repeat(16) } as Partial<Session>);
    const nodes = new Map([
      [NODE_A, { session: live }],
      [NODE_B, { session: gone }],
    ]);
    const s = new Signalling({ nodes, jobs: new Map() } as unknown as Gcs);
    expect(s.relay(sender, { t: 'signal', peer: NODE_A, data: 'offer' })).toBeNull();
    expect(live.got).toEqual([{ t: 'signal', peer: '6'.repeat(16), data: 'offer' }]);
    // Closed (its socket went), and never known at all: each signal is refused and said so.
    s.relay(sender, { t: 'signal', peer: NODE_B, data: 'offer' });
    s.relay(sender, { t: 'signal', peer: '7'.repeat(16), data: 'candidate' });
    expect(sender.got).toEqual([
      { t: 'unreachable', peer: NODE_B },
      { t: 'unreachable', peer: '7'.repeat(16) },
    ]);
    expect(s.refused).toBe(2);
    expect(gone.got).toEqual([]);
  });
});
