// Fast links between Node peers (issue 17): two peers' link pools, signalling
// through a stand-in for the coordinator's relay, real TCP sockets. The answer
// carries the TCP address and a one-time token; the initiator dials, and only
// the token's holder gets the link.
import { afterEach, describe, expect, it } from 'vitest';
import { PeerLinks } from '../../shared/transfer/links.js';
import { fastPeerFactory } from '../../edge/fast-link.js';
import { installNodeHasher } from '../../edge/node-hash.js';
import { contentHash } from '../../shared/hash.js';
import type { ObjectId } from '../../shared/ids.js';
import { peerOnlyReader, sampleBytes as sample } from '../helpers/fetcher.js';
import { CHUNK_HEADER_BYTES, MAX_CHUNK_DATA_BYTES, chunkHeader, readMessage, writeControl } from '../../shared/transfer/wire.js';
import { FrameReader, readStats } from '../../edge/fast-frames.js';
import { attachSocket } from '../../edge/fast-socket.js';
import type { RawPeer } from '../../shared/transfer/raw-peer.js';
import type { Placement } from '../../shared/transfer/placement.js';
import { connect, createServer, type AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { theListener } from '../../edge/fast-listener.js';
import { WS_MAGIC, WS_PATH, WS_REFUSED } from '../../edge/fast-ws.js';

installNodeHasher();

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

/** Peers on one host by name, each with its own listener-backed link pool; a reader whose fetcher is told `holders` hold the object. */
function mesh(held: Map<ObjectId, Uint8Array>, holders: string[]) {
  const pools = new Map<string, PeerLinks>();
  const mk = (self: string, own: Map<ObjectId, Uint8Array>) => {
    const p = new PeerLinks({
      factory: fastPeerFactory(undefined),
      self: () => self,
      sendSignal: (peer, data) => setImmediate(() => pools.get(peer)!.onSignal(self, data)),
      lookup: (id) => Promise.resolve(own.get(id)),
      connectTimeoutMs: 3000,
    });
    pools.set(self, p);
    stops.push(p);
    return p;
  };
  for (const h of holders) mk(h, held);
  const links = mk('reader', new Map());
  const f = peerOnlyReader(links, holders);
  return { pools, links, f };
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
    const direct = readStats.direct;
    const got = await a.fetch('b', OBJ, bytes.byteLength);
    expect(contentHash(got)).toBe(contentHash(bytes));
    expect(a.opened.tcp).toBe(1);
    expect(b.opened.tcp).toBe(1);
    // The reader dialled: the object's bytes went from the socket straight into their place (onread).
    expect(readStats.direct - direct).toBeGreaterThanOrEqual(bytes.byteLength - 64);
    // The open link serves again without a new connection.
    await a.fetch('b', OBJ, bytes.byteLength);
    expect(a.opened.tcp).toBe(1);
  });

  it('a connection presenting another token gets no link', async () => {
    // The initiator is handed a wrong token: the responder refuses its socket,
    // neither side has WebRTC to fall back to, and no link comes up.
    const { a, b, held } = pair((data) => data.replace(/"token":"[0-9a-f]{32}"/, `"token":"${'0'.repeat(32)}"`));
    stops.push(a, b);
    held.set(OBJ, new Uint8Array(10));
    await expect(a.fetch('b', OBJ, 10)).rejects.toThrow();
    expect(a.opened.tcp).toBeUndefined();
    expect(b.opened.tcp).toBeUndefined();
  });

  it('an answer whose TCP part is malformed is not dialled', async () => {
    let dialled = false;
    const { a, b, held } = pair((data) => {
      const m = JSON.parse(data) as { s: { tabmeshFast?: { port: number; addrs: string[] } } };
      if (m.s.tabmeshFast?.port) {
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

  it('an object moves in chunks of 16 leaves, each leaf checked: a bad byte costs only the leaves from its own on', async () => {
    const bytes = sample(3 * MAX_CHUNK_DATA_BYTES + 5 * 65536 + 99);
    const { pools, f } = mesh(new Map([[OBJ, bytes]]), ['liar', 'honest']);
    const honest = pools.get('honest')!;
    // The liar's first chunk (1 MiB) has a byte flipped in its middle: in its ninth leaf.
    pools.get('liar')!.faults.corruptChunks = 1;
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(got.via).toBe('peer');
    expect(f.badHolders).toEqual(['liar']);
    expect(pools.get('reader')!.opened.tcp).toBe(2);
    // What checked out of the bad chunk was kept: the honest holder sent from its ninth leaf on.
    const kept = 8 * 65536;
    expect(honest.counters.bytesOut).toBe(bytes.byteLength - kept);
  });

  it('a holder sending a frame larger than any chunk loses its link; the reader takes the object from another', async () => {
    const bytes = sample(2 * MAX_CHUNK_DATA_BYTES + 1000);
    const { pools, f } = mesh(new Map([[OBJ, bytes]]), ['liar', 'honest']);
    pools.get('liar')!.faults.chunkBytes = 2 * MAX_CHUNK_DATA_BYTES;
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(pools.get('honest')!.counters.bytesOut).toBe(bytes.byteLength);
    // Named as a bad holder (the coordinator's trust table hears of it).
    expect(f.badHolders).toEqual(['liar']);
  });

  it('a transfer that ends while its chunk is being read into place: the socket reads the rest elsewhere', async () => {
    const size = MAX_CHUNK_DATA_BYTES;
    const part = 100_000;
    const data = sample(size);
    let peer: import('node:net').Socket | null = null;
    const srv = createServer((c) => {
      peer = c;
      const h = Buffer.alloc(4);
      h.writeUInt32LE(CHUNK_HEADER_BYTES + size, 0);
      c.write(Buffer.concat([h, chunkHeader(1, 0, size), data.subarray(0, part)]));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const obj = new Uint8Array(new SharedArrayBuffer(size));
    let live = true;
    let placement: Placement | null = null;
    const got: string[] = [];
    const reader = new FrameReader();
    const s = connect({ host: '127.0.0.1', port: (srv.address() as AddressInfo).port, onread: { buffer: reader.nextBuffer, callback: reader.onRead } });
    const raw = {
      bufferedNow: () => 0,
      onData: (b: Uint8Array) => got.push(readMessage(b).control?.k ?? '?'),
      placeChunk: () => (live ? (placement = { dest: obj, live: () => live }) : undefined),
      onChunkPlaced: () => got.push('placed'),
      onClose: () => {},
      onDrain: () => {},
    } as unknown as RawPeer & { bufferedNow: () => number };
    await new Promise((r) => s.once('connect', r));
    const link = attachSocket(raw, s, () => {}, reader);
    try {
      for (let i = 0; i < 200 && obj[part - 1] !== data[part - 1]; i++) await new Promise((r) => setTimeout(r, 10));
      expect(Buffer.from(obj.subarray(0, part)).equals(Buffer.from(data.subarray(0, part)))).toBe(true);
      // The link ends the transfer (a bad leaf, a cancel): the socket's next read was aimed at obj.
      live = false;
      placement!.onEnd!();
      const h = Buffer.alloc(4);
      const ctl = writeControl({ k: 'cancel', x: 1 });
      h.writeUInt32LE(ctl.byteLength, 0);
      peer!.write(Buffer.concat([data.subarray(part), h, ctl]));
      for (let i = 0; i < 200 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual(['cancel']);
      expect(obj.subarray(part).every((b) => b === 0)).toBe(true);
    } finally {
      link.destroy();
      srv.close();
    }
  });

  it("a tab's WebSocket gets its link only with a token the process issued: any other hello is closed with 4001", async () => {
    const l = theListener();
    const port = await l.ws.port();
    /** Opens a socket, says `hello`, and resolves with the first thing that happens: a message, or the close code. */
    const attempt = (hello: string) =>
      new Promise<{ message?: Buffer; code?: number; ws: WebSocket }>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}${WS_PATH}`);
        ws.once('open', () => ws.send(hello));
        ws.once('message', (d: Buffer) => resolve({ message: d, ws }));
        ws.once('close', (code) => resolve({ code, ws }));
        ws.once('error', reject);
      });
    const refused = l.ws.refused;
    const token = 'c'.repeat(32);
    const accepted: WebSocket[] = [];
    l.expect(token, (c) => {
      if (c.kind === 'ws') accepted.push(c.ws);
    });
    try {
      expect((await attempt(WS_MAGIC + 'd'.repeat(32))).code).toBe(WS_REFUSED);
      expect((await attempt('TMF1' + token)).code).toBe(WS_REFUSED);
      expect((await attempt(WS_MAGIC + token + 'x')).code).toBe(WS_REFUSED);
      expect(l.ws.refused - refused).toBe(3);
      expect(accepted).toEqual([]);
      const ok = await attempt(WS_MAGIC + token);
      expect([...ok.message!]).toEqual([1]);
      expect(accepted.length).toBe(1);
      // One-time: the same token again is refused.
      expect((await attempt(WS_MAGIC + token)).code).toBe(WS_REFUSED);
      ok.ws.close();
    } finally {
      l.forget(token);
      for (const ws of accepted) ws.terminate();
    }
  });
});
