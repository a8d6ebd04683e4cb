// The seeded swarm run of test/sim/swarm.sim.test.ts (issue 17): one object,
// one honest origin, sometimes a lying full holder and a reader that corrupts
// what it passes on, 2-8 readers starting at random times on the simulated
// network. A run checks its invariants and returns what it measured. Also
// what the swarm's other sim files share: an object of n chunks, the fake clock.
import { vi } from 'vitest';
import { contentHash, setChunkChecker } from '../../shared/hash.js';
import type { ObjectId } from '../../shared/ids.js';
import type { ObjectClient } from '../../shared/api/object-client.js';
import type { Msg } from '../../shared/protocol/messages.js';
import { ObjectFetcher, type Fetch } from '../../shared/transfer/fetcher.js';
import { PeerLinks } from '../../shared/transfer/links.js';
import type { ChunkOrder } from '../../shared/transfer/swarm.js';
import { CALM, SimNet, seeded } from './net.js';

export const ID = ('00000001' + 'cd'.repeat(16)) as ObjectId;
export const CHUNK = 64 * 1024;

export interface SimPeer {
  id: string;
  links: PeerLinks;
  fetcher: ObjectFetcher;
  /** Holds the whole object (an origin, or a reader that finished); `liar` serves it altered. */
  holds: { bytes: Uint8Array; liar: boolean } | null;
}

export interface SimRead {
  peer: SimPeer;
  p: Promise<Fetch> | null;
  done: boolean;
  /** When it started and ended (simulated ms). */
  at: number;
  end: number;
}

export interface SimOptions {
  /** The swarm's random source (default the network's). */
  rand?: () => number;
  order?: ChunkOrder;
  /** Objects from this size up go by the swarm (default 1: all; Infinity: from one holder, the origin alone). */
  swarmMinBytes?: number;
  /** How long a link stays open unused (default 5 s). */
  idleMs?: number;
  /** How long the coordinator takes to answer `peer`'s locate, beyond a hop. */
  locateDelayMs?: (peer: string) => number;
  /** How long a signal from `from` to `to` takes beyond a hop (busy processes: their links come up late). */
  signalDelayMs?: (from: string, to: string) => number;
  /** How long a link may take to open (default 300 ms). */
  connectTimeoutMs?: number;
  /** How long a transfer may go without a byte before it stalls (default 2 s; outside the sim 10 s). */
  stallMs?: number;
  /**
   * Whether the coordinator tells a sender that a signal's target is no peer it
   * knows (`unreachable`, as coordinator/signal does; default true). False: the
   * target's process is gone but its socket not yet closed, so signals vanish.
   */
  tellUnreachable?: boolean;
}

/**
 * Peers around one object on the simulated network: each a PeerLinks and an
 * ObjectFetcher, a coordinator that answers `locate` with the full holders
 * and the readers that located the object before (its swarm), and a relay.
 */
export class SwarmSim {
  readonly peers: SimPeer[] = [];
  readonly reads: SimRead[] = [];
  /** The coordinator's swarm: peers that located the object. */
  readonly members: string[] = [];
  readonly relayed: string[] = [];
  readonly hash: string;

  constructor(
    readonly net: SimNet,
    readonly truth: Uint8Array,
    private readonly o: SimOptions = {},
  ) {
    this.hash = contentHash(truth);
  }

  add(id: string, holds: SimPeer['holds']): SimPeer {
    const net = this.net;
    const peer = { id, holds } as SimPeer;
    peer.links = new PeerLinks({
      factory: net.factory(id),
      self: () => id,
      sendSignal: (to, text) =>
        net.after(this.o.signalDelayMs?.(id, to) ?? 0, () => {
          if (!net.relay(id, to, text) && this.o.tellUnreachable !== false) net.later(() => peer.links.unreachable(to));
        }),
      lookup: (oid) => {
        const h = peer.holds;
        if (oid !== ID || !h) return Promise.resolve(undefined);
        if (!h.liar) return Promise.resolve(h.bytes);
        const lie = h.bytes.slice();
        lie[lie.byteLength >> 1] ^= 0x5a;
        return Promise.resolve(lie);
      },
      connectTimeoutMs: this.o.connectTimeoutMs ?? 300,
      stallMs: this.o.stallMs ?? 2000,
      idleMs: this.o.idleMs ?? 5000,
      failedForMs: 1000,
    });
    const objects = {
      fetchBytes: () =>
        new Promise<Uint8Array>((resolve) => {
          this.relayed.push(id);
          net.later(() => resolve(this.truth.slice()));
        }),
    } as unknown as ObjectClient;
    const send = (m: Msg) => {
      if (m.t !== 'locate') return;
      const full = this.peers.filter((q) => q.id !== id && q.holds).map((q) => q.id);
      const partial = this.members.filter((q) => q !== id);
      if (!this.members.includes(id)) this.members.push(id);
      net.after((this.o.locateDelayMs?.(id) ?? 0) + net.hop(), () => peer.fetcher.onLocated({ t: 'located', x: m.x, peers: full, partial }));
    };
    peer.fetcher = new ObjectFetcher(objects, peer.links, send, {
      swarmMinBytes: this.o.swarmMinBytes ?? 1,
      rand: this.o.rand ?? net.rand,
      chunkOrder: this.o.order,
    });
    this.peers.push(peer);
    net.inbox(id, (from, text) => peer.links.onSignal(from, text));
    return peer;
  }

  /** `peer` reads the object `atMs` from now; once it has it, it holds it (as a node's store does). */
  read(peer: SimPeer, atMs: number): SimRead {
    const read: SimRead = { peer, p: null, done: false, at: 0, end: 0 };
    this.reads.push(read);
    setTimeout(() => {
      read.at = Date.now();
      read.p = peer.fetcher.fetch(ID, { size: this.truth.byteLength, hash: this.hash });
      read.p.then(
        (f) => {
          read.done = true;
          read.end = Date.now();
          peer.holds = { bytes: f.bytes, liar: false };
        },
        () => {
          read.done = true;
          read.end = Date.now();
        },
      );
    }, atMs);
    return read;
  }

  /** Runs the simulated clock until every read ended (`each` before every step); throws past `limitMs`. */
  async drive(limitMs = 300_000, each: () => void = () => {}): Promise<void> {
    const limit = Date.now() + limitMs;
    while (this.reads.some((x) => !x.done)) {
      if (Date.now() > limit) throw new Error(`${this.reads.filter((x) => !x.done).length} read(s) still pending after ${limitMs / 1000} s of simulated time`);
      each();
      await vi.advanceTimersToNextTimerAsync();
    }
  }

  /** Checks every read got the object's bytes and no buffer stayed reserved, then stops the peers. */
  async finish(): Promise<void> {
    for (const x of this.reads) {
      const got = await x.p!; // a rejection fails the run: the relay never fails here
      if (got.bytes.byteLength !== this.truth.byteLength || contentHash(got.bytes) !== this.hash)
        throw new Error(`${x.peer.id} got the wrong bytes (via ${got.via})`);
    }
    for (const p of this.peers) {
      if (p.links.reservedBytes !== 0) throw new Error(`${p.id} kept receive buffers reserved after every read ended`);
      p.links.stop();
    }
  }
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
  const readers = pick(2, 8);
  const lyingHolder = r() < 0.3 && !o.clean;
  const lyingReader = r() < 0.3 && !o.clean ? pick(0, readers - 1) : -1;
  // Runs that compare chunk orders draw the swarm's choices apart from the network's, so both orders meet the same network.
  const sim = new SwarmSim(net, truth, { rand: o.order ? seeded(seed * 7919 + 1) : r, order: o.order });
  const origin = sim.add('origin', { bytes: truth, liar: false });
  const liar = lyingHolder ? sim.add('liar', { bytes: truth, liar: true }) : null;
  for (let i = 0; i < readers; i++) {
    const peer = sim.add(`reader${i}`, null);
    // A lying reader corrupts chunks it passes on (its own copy is right).
    if (i === lyingReader) peer.links.faults.corruptChunks = pick(1, 4);
    sim.read(peer, pick(0, o.big ? 2000 : 200));
  }
  const reads = sim.reads;
  const chunks = Math.ceil(size / CHUNK);
  const spread: number[] = [];
  const fewest: number[] = [];
  let nextSample = Date.now();
  await sim.drive(300_000, () => {
    if (Date.now() < nextSample) return;
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
  });
  const liars = new Set([liar?.id, lyingReader >= 0 ? `reader${lyingReader}` : undefined].filter((x) => x !== undefined));
  let fromReaders = 0;
  let mismatches = 0;
  let viaRelay = 0;
  await sim.finish();
  for (const x of reads) {
    const f = x.peer.fetcher;
    if (f.badHolders.length !== f.hashMismatches) throw new Error(`${x.peer.id}: ${f.hashMismatches} mismatches, ${f.badHolders.length} reported`);
    for (const b of f.badHolders) if (!liars.has(b)) throw new Error(`${x.peer.id} reported ${b}, which is honest`);
    fromReaders += f.swarm!.stats.fromReaders;
    mismatches += f.hashMismatches;
    viaRelay += f.fetchedRelay;
  }
  if (process.env.SIM_DEBUG)
    console.log(JSON.stringify({ seed, readers, size, out: sim.peers.map((p) => [p.id, p.links.counters.bytesOut, p.fetcher.swarm!.stats]) }));
  return { spread, fewest, calm, liars: liars.size, size, originOut: origin.links.counters.bytesOut, fromReaders, mismatches, viaRelay };
}

/** An object of `chunks` chunks (the last one short), its bytes from `seed`. */
export function object(chunks: number, seed: number): Uint8Array {
  const b = new Uint8Array(chunks * CHUNK - 1000);
  for (let j = 0; j < b.byteLength; j += 61) b[j] = (seed + j) & 255;
  return b;
}

/** Runs `f` on the fake clock from 0; `here`: chunks checked by this thread (the hash pool answers in real time while the clock jumps ahead). */
export async function simulated<T>(f: () => Promise<T>, here = false): Promise<T> {
  const pool = here ? setChunkChecker(null) : null;
  vi.useFakeTimers({ now: 0 });
  try {
    return await f();
  } finally {
    vi.useRealTimers();
    if (here) setChunkChecker(pool);
  }
}
