// Dial first (issue 17, session 23): a Node initiator's first signal is the
// TCP dial probe, sent before any WebRTC peer is built; WebRTC is built only
// where the dial fails or the peer cannot answer the probe. Peers that do not
// know the probe (a plain WebRTC peer: a Node with TABMESH_FAST_LINKS=0, an
// older tab that dials no WebSocket) still link. Two link pools, signalling
// through a stand-in for the coordinator's relay, real TCP and real WebRTC
// (simple-peer over @roamhq/wrtc).
import { afterEach, describe, expect, it } from 'vitest';
import SimplePeer from 'simple-peer';
import wrtc from '@roamhq/wrtc';
import { PeerLinks } from '../../shared/transfer/links.js';
import { DIAL_PROBE, fastPeerFactory } from '../../edge/fast-link.js';
import { wsPeerFactory } from '../../client-web/node/ws-link.js';
import { installNodeHasher } from '../../edge/node-hash.js';
import { contentHash } from '../../shared/hash.js';
import { simplePeerFactory, type PeerFactory } from '../../shared/transfer/raw-peer.js';
import type { ObjectId } from '../../shared/ids.js';
import { sampleBytes } from '../helpers/fetcher.js';

installNodeHasher();

const OBJ = 'cd'.repeat(20) as ObjectId;

/** Real WebRTC peers, counted as they are built. */
function counted() {
  const webrtc = simplePeerFactory(SimplePeer as never, { wrtc });
  const c: { built: number; factory: PeerFactory } = { built: 0, factory: (i, ice) => (c.built++, webrtc(i, ice)) };
  return c;
}

interface Sent {
  from: string;
  s: { type?: string; sdp?: string; tabmeshFast?: Record<string, unknown> };
  /** WebRTC peers the initiator 'a' had built when this signal left. */
  aBuilt: number;
}

/** `a` reads from `b`; every relayed signal is logged (and may be rewritten by `tamper`). */
function pair(aFactory: PeerFactory, bFactory: PeerFactory, aBuilt: () => number, tamper: (d: string) => string = (d) => d) {
  const held = new Map<ObjectId, Uint8Array>();
  const sent: Sent[] = [];
  const mk = (self: string, factory: PeerFactory, other: () => PeerLinks) =>
    new PeerLinks({
      factory,
      self: () => self,
      sendSignal: (_peer, data) => {
        sent.push({ from: self, s: (JSON.parse(data) as { s: Sent['s'] }).s, aBuilt: aBuilt() });
        setImmediate(() => other().onSignal(self, tamper(data)));
      },
      lookup: (id) => Promise.resolve(self === 'b' ? held.get(id) : undefined),
      connectTimeoutMs: 10_000,
    });
  const a: PeerLinks = mk('a', aFactory, () => b);
  const b: PeerLinks = mk('b', bFactory, () => a);
  stops.push(a, b);
  return { a, b, held, sent };
}

let stops: PeerLinks[] = [];
afterEach(() => {
  for (const p of stops) p.stop();
  stops = [];
});

describe('fast links dial first', () => {
  it('the dial probe leaves before the initiator builds a WebRTC peer; the link comes up over TCP', async () => {
    const wa = counted();
    const wb = counted();
    const { a, b, held, sent } = pair(fastPeerFactory(wa.factory), fastPeerFactory(wb.factory), () => wa.built);
    const bytes = sampleBytes(3 * 1024 * 1024 + 5);
    held.set(OBJ, bytes);
    const got = await a.fetch('b', OBJ, bytes.byteLength);
    expect(contentHash(got)).toBe(contentHash(bytes));
    expect(a.opened.tcp).toBe(1);
    expect(b.opened.tcp).toBe(1);
    const first = sent.find((x) => x.from === 'a')!;
    expect(first.s).toEqual(DIAL_PROBE);
    expect(first.aBuilt).toBe(0);
    // The responder answered the probe with its TCP answer and built no WebRTC peer.
    expect(sent.find((x) => x.from === 'b')!.s.tabmeshFast).toHaveProperty('token');
    expect(wb.built).toBe(0);
  });

  it('a peer without fast links (plain WebRTC, which knows no probe) still links, over WebRTC', async () => {
    const wa = counted();
    const wb = counted();
    const { a, b, held, sent } = pair(fastPeerFactory(wa.factory), wb.factory, () => wa.built);
    const bytes = sampleBytes(1024 * 1024 + 3);
    held.set(OBJ, bytes);
    const got = await a.fetch('b', OBJ, bytes.byteLength);
    expect(contentHash(got)).toBe(contentHash(bytes));
    expect(a.opened.webrtc).toBe(1);
    expect(b.opened.webrtc).toBe(1);
    // Its simple-peer took the probe for nothing (`renegotiate`), not for a bad signal that fails the link.
    expect(b.failures).toBe(0);
    // The probe went first; the WebRTC offer came after it (the grace), to the same responder.
    expect(sent[0].s).toEqual(DIAL_PROBE);
    expect(sent.some((x) => x.from === 'a' && x.s.type === 'offer' && typeof x.s.sdp === 'string' && x.s.sdp.length > 0)).toBe(true);
  });

  it("a dial the responder refuses falls back to WebRTC on both sides (the probe in the responder's WebRTC is ignored)", async () => {
    const wa = counted();
    const wb = counted();
    // The initiator is handed a wrong token: its socket is refused, it says `failed` and offers over WebRTC.
    const { a, b, held, sent } = pair(
      fastPeerFactory(wa.factory),
      fastPeerFactory(wb.factory),
      () => wa.built,
      (d) => d.replace(/"token":"[0-9a-f]{32}"/, `"token":"${'0'.repeat(32)}"`),
    );
    const bytes = sampleBytes(1024 * 1024 + 9);
    held.set(OBJ, bytes);
    const got = await a.fetch('b', OBJ, bytes.byteLength);
    expect(contentHash(got)).toBe(contentHash(bytes));
    expect(a.opened.webrtc).toBe(1);
    expect(b.opened.webrtc).toBe(1);
    expect(a.opened.tcp).toBeUndefined();
    expect(a.failures + b.failures).toBe(0);
    const failedAt = sent.findIndex((x) => x.from === 'a' && x.s.tabmeshFast?.failed === true);
    expect(failedAt).toBeGreaterThan(0);
  });

  it('a tab that dials no WebSocket answers the probe with `failed` at once, and links over WebRTC', async () => {
    const wa = counted();
    const wb = counted();
    // No `location` in Node: wsPeerFactory is what an https page's tab uses (no WebSocket to dial).
    const { a, b, held, sent } = pair(fastPeerFactory(wa.factory), wsPeerFactory(wb.factory)!, () => wa.built);
    const bytes = sampleBytes(512 * 1024 + 1);
    held.set(OBJ, bytes);
    const got = await a.fetch('b', OBJ, bytes.byteLength);
    expect(contentHash(got)).toBe(contentHash(bytes));
    expect(a.opened.webrtc).toBe(1);
    expect(a.failures + b.failures).toBe(0);
    expect(sent.find((x) => x.from === 'b')!.s).toEqual({ tabmeshFast: { failed: true } });
  });
});
