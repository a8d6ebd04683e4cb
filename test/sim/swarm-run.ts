// The seeded swarm run of test/sim/swarm.sim.test.ts (issue 17): one object,
// one honest origin, sometimes a lying full holder and a reader that corrupts
// what it passes on, 2-8 readers starting at random times on the simulated
// network. A run checks its invariants and returns what it measured.
import { vi } from 'vitest';
import { contentHash } from '../../shared/hash.js';
import type { ObjectId } from '../../shared/ids.js';
import type { ObjectClient } from '../../shared/api/object-client.js';
import type { Msg } from '../../shared/protocol/messages.js';
import { ObjectFetcher, type Fetch } from '../../shared/transfer/fetcher.js';
import { PeerLinks } from '../../shared/transfer/links.js';
import type { ChunkOrder } from '../../shared/transfer/swarm.js';
import { CALM, SimNet, seeded } from './net.js';

const ID = ('00000001' + 'cd'.repeat(16)) as ObjectId;
const CHUNK = 64 * 1024;

interface Peer {
  id: string;
  links: PeerLinks;
  fetcher: ObjectFetcher;
  /** Holds the whole object (an origin, or a reader that finished); `liar` serves it altered. */
  holds: { bytes: Uint8Array; liar: boolean } | null;
}

export interface Outcome {
  /** Per sample while readers fetch: the spread of chunk counts (most minus fewest readers holding a chunk) and the fewest. */
  spread: number[];
  fewest: number[];
  calm: boolean;
  liars: number;
  size: number;
  originOut: number;
  fromReaders: number;
  mismatches: number;
  viaRelay: number;
}

export interface RunOptions {
  /** The order readers ask for chunks in (default rarest first). */
  order?: ChunkOrder;
  /** A calm network and no liar, whatever the seed says. */
  clean?: boolean;
  /** A larger object (64-128 chunks) over slower channels, readers starting over 2 s: where the order of chunks shows. */
  big?: boolean;
}

/** How often a run looks at which reader holds which chunk (simulated ms). */
const SAMPLE_MS = 20;

export async function run(seed: number, o: RunOptions = {}): Promise<Outcome> {
  const net = new SimNet(seed);
  const r = net.rand;
  const pick = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const calm = r() < 0.6 || o.clean === true;
  net.faults = calm ? CALM : { signalLoss: r() * 0.2, cutPerMessage: r() * 0.01, latencyMs: [1, pick(2, 30)], bytesPerMs: pick(5, 50) * 1000 };
  const size = o.big ? pick(64, 128) * CHUNK - pick(0, CHUNK - 1) : pick(3, 24) * CHUNK - pick(0, CHUNK - 1);
  if (o.big) net.faults = { ...CALM, bytesPerMs: 20_000 };
  const truth = new Uint8Array(size);
  for (let j = 0; j < size; j += 61) truth[j] = (seed + j) & 255;
  const hash = contentHash(truth);
  const readers = pick(2, 8);
  const lyingHolder = r() < 0.3 && !o.clean;
  const lyingReader = r() < 0.3 && !o.clean ? pick(0, readers - 1) : -1;
  const peers: Peer[] = [];
  // Runs that compare chunk orders draw the swarm's choices apart from the network's, so both orders meet the same network.
  const swarmRand = seeded(seed * 7919 + 1);
  const members: string[] = []; // the coordinator's swarm: peers that located the object
  const relayed: string[] = [];
  const add = (id: string, holds: Peer['holds']): Peer => {
    const peer = { id, holds } as Peer;
    peer.links = new PeerLinks({
      factory: net.factory(id),
      self: () => id,
      sendSignal: (to, text) => net.relay(id, to, text),
      lookup: (oid) => {
        const h = peer.holds;
        if (oid !== ID || !h) return Promise.resolve(undefined);
        if (!h.liar) return Promise.resolve(h.bytes);
        const lie = h.bytes.slice();
        lie[lie.byteLength >> 1] ^= 0x5a;
        return Promise.resolve(lie);
      },
      connectTimeoutMs: 300,
      stallMs: 2000,
      idleMs: 5000,
      failedForMs: 1000,
    });
    const objects = {
      fetchBytes: () =>
        new Promise<Uint8Array>((resolve) => {
          relayed.push(id);
          net.later(() => resolve(truth.slice()));
        }),
    } as unknown as ObjectClient;
    const send = (m: Msg) => {
      if (m.t !== 'locate') return;
      const full = peers.filter((q) => q.id !== id && q.holds).map((q) => q.id);
      const partial = members.filter((q) => q !== id);
      if (!members.includes(id)) members.push(id);
      net.later(() => peer.fetcher.onLocated({ t: 'located', x: m.x, peers: full, partial }));
    };
    peer.fetcher = new ObjectFetcher(objects, peer.links, send, { swarmMinBytes: 1, rand: o.order ? swarmRand : r, chunkOrder: o.order });
    peers.push(peer);
    net.inbox(id, (from, text) => peer.links.onSignal(from, text));
    return peer;
  };
  const origin = add('origin', { bytes: truth, liar: false });
  const liar = lyingHolder ? add('liar', { bytes: truth, liar: true }) : null;
  const reads: Array<{ peer: Peer; p: Promise<Fetch> | null; done: boolean }> = [];
  for (let i = 0; i < readers; i++) {
    const peer = add(`reader${i}`, null);
    // A lying reader corrupts chunks it passes on (its own copy is right).
    if (i === lyingReader) peer.links.faults.corruptChunks = pick(1, 4);
    const read = { peer, p: null as Promise<Fetch> | null, done: false };
    reads.push(read);
    setTimeout(
      () => {
        read.p = peer.fetcher.fetch(ID, { size, hash });
        read.p.then(
          (f) => {
            read.done = true;
            peer.holds = { bytes: f.bytes, liar: false };
          },
          () => (read.done = true),
        );
      },
      pick(0, o.big ? 2000 : 200),
    );
  }
  const limit = Date.now() + 300_000;
  const chunks = Math.ceil(size / CHUNK);
  const spread: number[] = [];
  const fewest: number[] = [];
  let nextSample = Date.now();
  while (reads.some((x) => !x.done)) {
    if (Date.now() > limit) throw new Error(`${reads.filter((x) => !x.done).length} read(s) still pending after 300 s of simulated time`);
    if (Date.now() >= nextSample) {
      nextSample = Date.now() + SAMPLE_MS;
      // How many readers hold each chunk (a finished reader holds them all), while some readers still fetch.
      const counts = Array.from(
        { length: chunks },
        (_, c) => reads.filter((x) => x.peer.holds || x.peer.fetcher.swarm!.partial(ID, c * CHUNK, Math.min(size, (c + 1) * CHUNK))).length,
      );
      if (counts.some((n) => n > 0) && reads.some((x) => x.p && !x.done)) {
        spread.push(Math.max(...counts) - Math.min(...counts));
        fewest.push(Math.min(...counts));
      }
    }
    await vi.advanceTimersToNextTimerAsync();
  }
  const liars = new Set([liar?.id, lyingReader >= 0 ? `reader${lyingReader}` : undefined].filter((x) => x !== undefined));
  let fromReaders = 0;
  let mismatches = 0;
  let viaRelay = 0;
  for (const x of reads) {
    const got = await x.p!; // a rejection fails the run: the relay never fails here
    if (got.bytes.byteLength !== size || contentHash(got.bytes) !== hash) throw new Error(`${x.peer.id} got the wrong bytes (via ${got.via})`);
    const f = x.peer.fetcher;
    if (f.badHolders.length !== f.hashMismatches) throw new Error(`${x.peer.id}: ${f.hashMismatches} mismatches, ${f.badHolders.length} reported`);
    for (const b of f.badHolders) if (!liars.has(b)) throw new Error(`${x.peer.id} reported ${b}, which is honest`);
    fromReaders += f.swarm!.stats.fromReaders;
    mismatches += f.hashMismatches;
    viaRelay += f.fetchedRelay;
  }
  for (const p of peers) {
    if ((p.links as unknown as { reserved: number }).reserved !== 0) throw new Error(`${p.id} kept receive buffers reserved after every read ended`);
    p.links.stop();
  }
  if (process.env.SIM_DEBUG)
    console.log(JSON.stringify({ seed, readers, size, out: peers.map((p) => [p.id, p.links.counters.bytesOut, p.fetcher.swarm!.stats]) }));
  return { spread, fewest, calm, liars: liars.size, size, originOut: origin.links.counters.bytesOut, fromReaders, mismatches, viaRelay };
}
