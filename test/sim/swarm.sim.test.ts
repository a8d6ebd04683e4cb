// Seeded runs of swarm broadcast (issue 17) on the simulated network: one
// object, one honest origin, sometimes a second full holder that lies about
// its bytes and sometimes a reader that corrupts the chunks it passes on;
// 2-8 readers starting at random times, each becoming a full holder once it
// has the object (as a node's store does). Invariants on every run: each
// reader gets exactly the object's bytes, nothing hangs, receive buffers come
// back, every bad chunk is reported and only liars are; on calm runs with no
// liar readers took chunks from each other and the origin uploaded at most
// two copies in all.
//
//   SIM_RUNS=2000 npx vitest run test/sim/swarm.sim.test.ts     more seeds
//   SIM_SEED=12 npx vitest run test/sim/swarm.sim.test.ts       replay one seed
import { afterEach, describe, expect, it, vi } from 'vitest';
import { contentHash } from '../../shared/hash.js';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { ObjectId } from '../../shared/ids.js';
import type { ObjectClient } from '../../shared/api/object-client.js';
import type { Msg } from '../../shared/protocol/messages.js';
import { ObjectFetcher, type Fetch } from '../../shared/transfer/fetcher.js';
import { PeerLinks } from '../../shared/transfer/links.js';
import type { ChunkOrder } from '../../shared/transfer/swarm.js';
import { CALM, SimNet, seeded } from './net.js';
import { seedsToRun } from './seeds.js';

const ID = ('00000001' + 'cd'.repeat(16)) as ObjectId;
const CHUNK = 64 * 1024;

interface Peer {
  id: string;
  links: PeerLinks;
  fetcher: ObjectFetcher;
  /** Holds the whole object (an origin, or a reader that finished); `liar` serves it altered. */
  holds: { bytes: Uint8Array; liar: boolean } | null;
}

interface Outcome {
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

interface RunOptions {
  /** The order readers ask for chunks in (default rarest first). */
  order?: ChunkOrder;
  /** A calm network and no liar, whatever the seed says. */
  clean?: boolean;
  /** A larger object (64-128 chunks) over slower channels, readers starting over 2 s: where the order of chunks shows. */
  big?: boolean;
}

/** How often a run looks at which reader holds which chunk (simulated ms). */
const SAMPLE_MS = 20;

async function run(seed: number, o: RunOptions = {}): Promise<Outcome> {
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

afterEach(() => {
  vi.useRealTimers();
});

installNodeHasher();

describe('swarm broadcast on a simulated network', () => {
  it('seeded runs: every reader gets the right bytes, liars are caught and reported, the origin uploads about one copy', async () => {
    const t = { runs: 0, calmClean: 0, calmSize: 0, calmOriginOut: 0, fromReaders: 0, mismatches: 0, viaRelay: 0, worstOriginCopies: 0 };
    for (const seed of seedsToRun(60)) {
      vi.useFakeTimers({ now: 0 });
      try {
        const o = await run(seed);
        t.runs++;
        t.fromReaders += o.fromReaders;
        t.mismatches += o.mismatches;
        t.viaRelay += o.viaRelay;
        if (o.calm && o.liars === 0) {
          t.calmClean++;
          t.calmSize += o.size;
          t.calmOriginOut += o.originOut;
          t.worstOriginCopies = Math.max(t.worstOriginCopies, o.originOut / o.size);
          // The leaves, and what readers asked the origin for before they heard of each other: at most two copies.
          if (o.originOut > 2 * o.size) throw new Error(`the origin uploaded ${(o.originOut / o.size).toFixed(2)} copies`);
        }
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/swarm.sim.test.ts`);
      } finally {
        vi.useRealTimers();
      }
    }
    console.log(`swarm sim: ${JSON.stringify({ ...t, calmOriginCopies: t.calmSize ? +(t.calmOriginOut / t.calmSize).toFixed(3) : 0 })}`);
    if (t.runs >= 50) {
      expect(t.fromReaders).toBeGreaterThan(0);
      expect(t.mismatches).toBeGreaterThan(0);
      expect(t.calmClean).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('rarest first', () => {
  it('readers ask for the chunks fewest hold first: chunk counts spread less than from a random start, and the origin still uploads at most two copies', async () => {
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const by = { rarest: { spread: [] as number[], fewest: [] as number[], copies: 0 }, random: { spread: [] as number[], fewest: [] as number[], copies: 0 } };
    for (const seed of seedsToRun(20)) {
      for (const order of ['rarest', 'random'] as const) {
        vi.useFakeTimers({ now: 0 });
        try {
          const o = await run(seed, { order, clean: true, big: true });
          by[order].spread.push(mean(o.spread));
          by[order].fewest.push(mean(o.fewest));
          by[order].copies = Math.max(by[order].copies, o.originOut / o.size);
        } catch (e) {
          throw new Error(`seed ${seed} (${order}): ${(e as Error).message}\n  replay: SIM_SEED=${seed} npx vitest run test/sim/swarm.sim.test.ts`);
        } finally {
          vi.useRealTimers();
        }
      }
    }
    const f = (k: 'rarest' | 'random') => ({
      spread: +mean(by[k].spread).toFixed(3),
      fewest: +mean(by[k].fewest).toFixed(3),
      worstOriginCopies: +by[k].copies.toFixed(2),
    });
    console.log(`swarm sim, chunk order: ${JSON.stringify({ rarest: f('rarest'), random: f('random') })}`);
    if (by.rarest.spread.length >= 15) {
      expect(by.rarest.copies).toBeLessThanOrEqual(2);
      expect(mean(by.rarest.spread)).toBeLessThan(mean(by.random.spread));
      expect(mean(by.rarest.fewest)).toBeGreaterThanOrEqual(mean(by.random.fewest));
    }
  }, 300_000);
});
