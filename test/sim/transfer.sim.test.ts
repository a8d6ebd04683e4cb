// Seeded runs of the transfer layer (PeerLinks, PeerLink, ObjectFetcher) on a
// simulated network: lost signals, cut links, slow channels, lying holders,
// corrupted chunks and a memory budget, with no process and no socket.
// Invariants checked on every run: each read gets exactly the object's bytes
// (a wrong hash is never accepted), concurrent reads of one object on one peer
// make one transfer, nothing hangs, and receive buffers are all given back.
//
//   SIM_RUNS=20000 npx vitest run test/sim        more seeds
//   SIM_SEED=1234 npx vitest run test/sim         replay one seed
import { afterEach, describe, expect, it, vi } from 'vitest';
import { contentHash } from '../../shared/hash.js';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { ObjectId } from '../../shared/ids.js';
import type { ObjectClient } from '../../shared/api/object-client.js';
import type { Msg } from '../../shared/protocol/messages.js';
import { ObjectFetcher, type Fetch } from '../../shared/transfer/fetcher.js';
import { PeerLinks } from '../../shared/transfer/links.js';
import { CALM, SimNet, type NetFaults } from './net.js';
import { seedsToRun } from './seeds.js';

interface Peer {
  id: string;
  links: PeerLinks;
  fetcher: ObjectFetcher;
  /** Objects this peer serves, and whether it lies about them. */
  holds: Map<ObjectId, { bytes: Uint8Array; liar: boolean }>;
}

interface Scenario {
  peers: number;
  objects: number;
  maxBytes: number;
  reads: number;
  liars: number;
  corruptChunks: number;
  faults: NetFaults;
}

function objectId(i: number): ObjectId {
  return (i.toString(16).padStart(8, '0') + 'ab'.repeat(16)) as ObjectId;
}

function scenario(r: () => number): Scenario {
  const pick = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const rough = r() < 0.5;
  return {
    peers: pick(2, 6),
    objects: pick(1, 6),
    maxBytes: pick(1, 3) * 64 * 1024,
    reads: pick(1, 12),
    liars: r() < 0.3 ? 1 : 0,
    corruptChunks: r() < 0.2 ? pick(1, 3) : 0,
    faults: rough ? { signalLoss: r() * 0.3, cutPerMessage: r() * 0.05, latencyMs: [1, pick(2, 40)], bytesPerMs: pick(1, 50) * 1000 } : CALM,
  };
}

/** One seeded run; resolves with what happened, throws on a broken invariant. */
async function run(seed: number): Promise<{ reads: number; viaPeer: number; viaRelay: number; mismatches: number; cuts: number; lost: number }> {
  const net = new SimNet(seed);
  const s = scenario(net.rand);
  net.faults = s.faults;
  const truth = new Map<ObjectId, Uint8Array>();
  for (let i = 0; i < s.objects; i++) {
    const n = 1 + Math.floor(net.rand() * s.maxBytes);
    const b = new Uint8Array(n);
    for (let j = 0; j < n; j += 97) b[j] = (seed + i * 31 + j) & 255;
    truth.set(objectId(i), b);
  }
  const hashes = new Map([...truth].map(([id, b]) => [id, contentHash(b)]));
  const peers: Peer[] = [];
  const relayed = new Map<string, number>();
  for (let p = 0; p < s.peers; p++) {
    const id = `peer${p}`;
    const holds: Peer['holds'] = new Map();
    const links = new PeerLinks({
      factory: net.factory(id),
      self: () => id,
      sendSignal: (to, text) => net.relay(id, to, text),
      lookup: async (oid) => {
        const h = holds.get(oid);
        if (!h) return undefined;
        if (!h.liar) return h.bytes;
        const lie = h.bytes.slice();
        lie[lie.byteLength - 1] ^= 0x5a;
        return lie;
      },
      connectTimeoutMs: 300,
      stallMs: 2000,
      idleMs: 5000,
      failedForMs: 1000,
      incomingBytes: 256 * 1024,
    });
    links.faults.corruptChunks = p === 0 ? s.corruptChunks : 0;
    // The coordinator's side of the fetcher: locate answers with the holders, the relay always has the bytes.
    const objects = {
      fetchBytes: (oid: ObjectId) =>
        new Promise<Uint8Array>((resolve) => {
          relayed.set(`${id} ${oid}`, (relayed.get(`${id} ${oid}`) ?? 0) + 1);
          net.later(() => resolve(truth.get(oid)!.slice()));
        }),
    } as unknown as ObjectClient;
    const send = (m: Msg) => {
      if (m.t !== 'locate') return;
      const holders = peers.filter((q) => q.id !== id && q.holds.has(m.id)).map((q) => q.id);
      net.later(() => fetcher.onLocated({ t: 'located', x: m.x, peers: holders }));
    };
    const fetcher = new ObjectFetcher(objects, links, send);
    const peer: Peer = { id, links, fetcher, holds };
    peers.push(peer);
    net.inbox(id, (from, text) => links.onSignal(from, text));
  }
  // Holders: each object on one to all-but-one peers; one holder may lie.
  let liars = s.liars;
  for (const [oid, bytes] of truth) {
    const k = 1 + Math.floor(net.rand() * (s.peers - 1));
    const order = peers.map((p) => p).sort(() => net.rand() - 0.5);
    for (const p of order.slice(0, k)) {
      const liar = liars > 0 && net.rand() < 0.5;
      if (liar) liars--;
      p.holds.set(oid, { bytes, liar });
    }
  }
  // Reads: a peer that does not hold an object reads it, sometimes twice at once.
  const reads: Array<{ peer: Peer; id: ObjectId; p: Promise<Fetch>; done: boolean }> = [];
  const ids = [...truth.keys()];
  for (let i = 0; i < s.reads; i++) {
    const id = ids[Math.floor(net.rand() * ids.length)];
    const readers = peers.filter((p) => !p.holds.has(id));
    if (readers.length === 0) continue;
    const peer = readers[Math.floor(net.rand() * readers.length)];
    const copies = net.rand() < 0.3 ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const r = { peer, id, p: peer.fetcher.fetch(id, { size: truth.get(id)!.byteLength, hash: hashes.get(id) }), done: false };
      r.p.then(
        () => (r.done = true),
        () => (r.done = true),
      );
      reads.push(r);
    }
  }
  // Run the clock until every read settled (bounded: a hang is a failure).
  const limit = Date.now() + 120_000;
  while (reads.some((r) => !r.done)) {
    if (Date.now() > limit) throw new Error(`${reads.filter((r) => !r.done).length} read(s) still pending after 120 s of simulated time`);
    await vi.advanceTimersToNextTimerAsync();
  }
  let viaPeer = 0;
  let viaRelay = 0;
  let mismatches = 0;
  const transfers = new Map<string, Set<Promise<Fetch>>>();
  for (const r of reads) {
    const got = await r.p; // a rejection fails the run: the relay never fails here
    const want = truth.get(r.id)!;
    if (got.bytes.byteLength !== want.byteLength || contentHash(got.bytes) !== hashes.get(r.id)) {
      throw new Error(`${r.peer.id} read ${r.id.slice(0, 8)} with the wrong bytes (via ${got.via})`);
    }
    const key = `${r.peer.id} ${r.id}`;
    if (!transfers.has(key)) transfers.set(key, new Set());
    transfers.get(key)!.add(r.p);
  }
  for (const [key, ps] of transfers) {
    // Concurrent reads of one object on one peer share one transfer.
    if (ps.size !== 1) throw new Error(`${key}: ${ps.size} transfers for concurrent reads`);
  }
  for (const p of peers) {
    viaPeer += p.fetcher.fetchedPeer;
    viaRelay += p.fetcher.fetchedRelay;
    mismatches += p.fetcher.hashMismatches;
    if (p.fetcher.fetchedPeer + p.fetcher.fetchedRelay !== [...transfers.keys()].filter((k) => k.startsWith(`${p.id} `)).length) {
      throw new Error(`${p.id}: ${p.fetcher.fetchedPeer} peer + ${p.fetcher.fetchedRelay} relay transfers for ${transfers.size} objects read`);
    }
    if (p.links.peakReserved > p.links.incomingBytes + s.maxBytes) throw new Error(`${p.id} reserved ${p.links.peakReserved} bytes at once`);
    if (p.links.reservedBytes !== 0) throw new Error(`${p.id} kept receive buffers reserved after every read ended`);
    p.links.stop();
  }
  // Lies and corruption never pass; a read that met one went on to an honest holder or the relay.
  if (s.liars === 0 && s.corruptChunks === 0 && mismatches > 0) throw new Error(`${mismatches} hash mismatches with no liar`);
  return { reads: reads.length, viaPeer, viaRelay, mismatches, cuts: net.cuts, lost: net.signalsLost };
}

afterEach(() => {
  vi.useRealTimers();
});

installNodeHasher();

describe('transfer layer on a simulated network', () => {
  it('seeded runs: every read gets the right bytes once, nothing hangs, buffers come back', async () => {
    const totals = { runs: 0, reads: 0, viaPeer: 0, viaRelay: 0, mismatches: 0, cuts: 0, lost: 0 };
    for (const seed of seedsToRun(1000)) {
      vi.useFakeTimers({ now: 0 });
      try {
        const r = await run(seed);
        totals.runs++;
        for (const k of ['reads', 'viaPeer', 'viaRelay', 'mismatches', 'cuts', 'lost'] as const) totals[k] += r[k];
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/transfer.sim.test.ts`);
      } finally {
        vi.useRealTimers();
      }
    }
    console.log(`transfer sim: ${JSON.stringify(totals)}`);
    // The runs exercised what they claim to: peer transfers, relay fallbacks, lies caught, links cut, signals lost.
    if (totals.runs >= 200) {
      expect(totals.viaPeer).toBeGreaterThan(0);
      expect(totals.viaRelay).toBeGreaterThan(0);
      expect(totals.mismatches).toBeGreaterThan(0);
      expect(totals.cuts).toBeGreaterThan(0);
      expect(totals.lost).toBeGreaterThan(0);
    }
  }, 300_000);
});
