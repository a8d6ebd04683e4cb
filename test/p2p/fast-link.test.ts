// Fast links between Node peers (issue 17): two peers' link pools, signalling
// through a stand-in for the coordinator's relay, real TCP sockets. The offer
// carries the TCP address and a one-time token; only the token's holder gets
// the link.
import { afterEach, describe, expect, it } from 'vitest';
import { PeerLinks } from '../../shared/transfer/links.js';
import { fastPeerFactory } from '../../edge/fast-link.js';
import { contentHash } from '../../shared/hash.js';
import type { ObjectId } from '../../shared/ids.js';

const OBJ = 'ab'.repeat(20) as ObjectId;

function pair(tamper: (data: string) => string = (d) => d) {
  const held = new Map<ObjectId, Uint8Array>();
  const mk = (self: string, other: () => PeerLinks) =>
    new PeerLinks({
      factory: fastPeerFactory(undefined),
      self: () => self,
      sendSignal: (peer, data) => setImmediate(() => other().onSignal(self, tamper(data))),
      lookup: (id) => Promise.resolve(self === 'b' ? held.get(id) : undefined),
      connectTimeoutMs: 3000,
    });
  const a: PeerLinks = mk('a', () => b);
  const b: PeerLinks = mk('b', () => a);
  return { a, b, held };
}

let stops: PeerLinks[] = [];
afterEach(() => {
  for (const p of stops) p.stop();
  stops = [];
});

describe('fast links', () => {
  it('two Node peers on one host link over TCP and move an object byte for byte', async () => {
    const { a, b, held } = pair();
    stops.push(a, b);
    const bytes = new Uint8Array(5 * 1024 * 1024 + 17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    held.set(OBJ, bytes);
    const got = await a.fetch('b', OBJ, bytes.byteLength);
    expect(contentHash(got)).toBe(contentHash(bytes));
    expect(a.opened.tcp).toBe(1);
    expect(b.opened.tcp).toBe(1);
    // The open link serves again without a new connection.
    await a.fetch('b', OBJ, bytes.byteLength);
    expect(a.opened.tcp).toBe(1);
  });

  it('a connection presenting another token gets no link', async () => {
    // The responder is handed a wrong token: the initiator refuses its socket,
    // the responder has no WebRTC to fall back to, and no link comes up.
    const { a, b, held } = pair((data) => data.replace(/"token":"[0-9a-f]{32}"/, `"token":"${'0'.repeat(32)}"`));
    stops.push(a, b);
    held.set(OBJ, new Uint8Array(10));
    await expect(a.fetch('b', OBJ, 10)).rejects.toThrow();
    expect(a.opened.tcp).toBeUndefined();
    expect(b.opened.tcp).toBeUndefined();
  });

  it('an offer whose TCP part is malformed is not dialled', async () => {
    let dialled = false;
    const { a, b, held } = pair((data) => {
      const m = JSON.parse(data) as { s: { tabmeshFast?: { port: number; addrs: string[] } } };
      if (m.s.tabmeshFast) {
        m.s.tabmeshFast.addrs = ['not an address; rm -rf /'];
        dialled = true;
      }
      return JSON.stringify(m);
    });
    stops.push(a, b);
    held.set(OBJ, new Uint8Array(10));
    await expect(a.fetch('b', OBJ, 10)).rejects.toThrow();
    expect(dialled).toBe(true);
    expect(b.opened.tcp).toBeUndefined();
  });
});
