// Swarm broadcast (issue 17): when many peers read one object, each reader
// takes runs of chunks from every holder, readers still receiving it
// included, so the origin uploads little more than one copy.
//
// A reader gets the object's leaves once (checked against the GCS's hash),
// then asks each source for runs of chunks it lacks, checked chunk by chunk
// against those leaves. Readers learn of each other from the coordinator
// (`located.partial`: peers that located the object lately) and from the
// `have` messages they send each other over their links: the chunks they hold
// (checked) and the chunks they asked a full holder for (claims). A reader
// asks a full holder only for chunks that no other reader holds or has
// claimed, so readers split the origin's chunks between them and take the
// rest from each other. Of the chunks a source may be asked for, a reader
// takes the rarest first (fewest sources hold it; ties at random), as
// BitTorrent does: what only the origin holds spreads before what many hold.
// A source that sends a bad chunk is dropped and reported; its run comes from
// another source.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { allocBytes } from '../bytes.js';
import { chunkCount, rememberLeaves } from '../hash.js';
import { BadChunkError } from './link-receive.js';
import type { PeerLinks, SwarmHooks } from './links.js';
import { CHUNK_DATA_BYTES, HAVE_PER_MESSAGE, type Have } from './wire.js';

/** Objects from this size up are fetched by the swarm (smaller ones from one holder). */
export const SWARM_MIN_BYTES = 1 << 20;
/** Chunks asked for in one request, and requests in flight per source. */
const RUN_CHUNKS = 4;
const PER_SOURCE = 4;
/** A claim older than this no longer keeps a reader from asking a full holder. */
const CLAIM_MS = 3_000;
/** How often have messages go out, batched. */
const FLUSH_MS = 10;
/** How long a reader waits for the have maps of the readers it told before asking full holders. */
const HEAR_MS = 250;
/** (peer, object) pairs remembered as answered with a whole have map. */
const ANSWERED_MAX = 4096;

const MISSING = 0;
const ASKED = 1;
const HELD = 2;

export interface SwarmReport {
  /** `peer` sent a chunk (or leaves) of `id` not matching its hash. */
  bad(id: ObjectId, peer: string, why: string): void;
  /** `peer` is no longer asked for `id` (its link broke or stalled, or it could not serve). */
  dropped?(id: ObjectId, peer: string, why: string): void;
}

interface Source {
  peer: string;
  /** A full holder (a location of the object), or a reader still fetching it. */
  full: boolean;
  /** Chunks a reader holds, and when it claimed the ones it asked a full holder for. */
  has: Uint8Array | null;
  claims: Map<number, number>;
  inflight: number;
  dropped: boolean;
  /** Whether it got this side's full have map (it then gets the changes), and whether it sent one. */
  told: boolean;
  heard: boolean;
}

/** How a reader orders the chunks it may ask a source for: rarest first, or from a random place on (the sim test's baseline). */
export type ChunkOrder = 'rarest' | 'random';

export class Swarm implements SwarmHooks {
  private readonly active = new Map<ObjectId, SwarmFetch>();
  /** Peers this side told it holds a whole object (once per peer and object). */
  private readonly answered = new Set<string>();
  /** Swarm fetches run, and bytes they got from full holders and from other readers (tests, bench). */
  readonly stats = { fetches: 0, fromFull: 0, fromReaders: 0 };

  constructor(
    readonly links: PeerLinks,
    readonly report: SwarmReport,
    readonly rand: () => number = Math.random,
    readonly stallMs = 10_000,
    readonly order: ChunkOrder = 'rarest',
  ) {
    links.swarm = this;
  }

  /** Fetches object `id` from full holders `full` and readers `partial`, each chunk checked; rejects when it cannot go on. */
  async fetch(id: ObjectId, size: number, hash: string, full: string[], partial: string[]): Promise<Uint8Array> {
    if (this.active.has(id)) throw new TabmeshError('CLOSED', `object ${id} is already being fetched`);
    this.stats.fetches++;
    await this.links.reserve(size);
    const f = new SwarmFetch(this, id, size, hash);
    try {
      // A peer in both lists is a reader that finished: it answers the have map with all chunks.
      for (const p of partial) f.addSource(p, false);
      for (const p of full) f.addSource(p, true);
      await f.getLeaves();
      this.active.set(id, f);
      return await f.run();
    } finally {
      if (this.active.get(id) === f) this.active.delete(id);
      f.end();
      this.links.unreserve(size);
    }
  }

  partial(id: ObjectId, from: number, end: number): Uint8Array | undefined {
    return this.active.get(id)?.holds(from, end);
  }

  have(peer: string, h: Have): void {
    const f = this.active.get(h.id);
    if (f) return f.onHave(peer, h);
    // A reader that already has the whole object answers a new swarm peer once with all of it.
    const key = `${peer} ${h.id}`;
    if (this.answered.has(key)) return;
    if (this.answered.size >= ANSWERED_MAX) this.answered.clear();
    this.answered.add(key);
    void this.links.lookup(h.id).then(
      (held) => {
        const link = this.links.links.get(peer);
        const size = held instanceof Uint8Array ? held.byteLength : held?.size;
        if (size !== undefined && link?.state === 'open') sendHaves(link, h.id, range(chunkCount(size)), []);
      },
      () => {},
    );
  }
}

class SwarmFetch {
  private readonly chunks: number;
  private readonly state: Uint8Array;
  private missing: number;
  private readonly sources = new Map<string, Source>();
  /** Per chunk, the readers still asked that hold it (full holders hold every chunk: they do not change the order). */
  private readonly holders: Uint16Array;
  private leaves: Uint8Array | null = null;
  private buf: Uint8Array | null = null;
  private readonly outHave: number[] = [];
  private readonly outClaim: number[] = [];
  private flushTimer: unknown = null;
  private wake: () => void = () => {};
  private lastProgress = Date.now();
  private readonly started = Date.now();
  /** Where this reader starts looking for chunks to ask a full holder for. */
  private readonly spot: number;
  private ended = false;

  constructor(
    private readonly swarm: Swarm,
    private readonly id: ObjectId,
    private readonly size: number,
    private readonly hash: string,
  ) {
    this.chunks = chunkCount(size);
    this.state = new Uint8Array(this.chunks);
    this.holders = new Uint16Array(this.chunks);
    this.missing = this.chunks;
    this.spot = Math.floor(swarm.rand() * this.chunks);
  }

  addSource(peer: string, full: boolean): Source {
    let s = this.sources.get(peer);
    if (!s) {
      s = { peer, full, has: full ? null : new Uint8Array(this.chunks), claims: new Map(), inflight: 0, dropped: false, told: false, heard: false };
      this.sources.set(peer, s);
    }
    return s;
  }

  /** The leaves, from full holders first; each set checked against the hash. */
  async getLeaves(): Promise<void> {
    const order = [...this.sources.values()].sort((a, b) => Number(b.full) - Number(a.full));
    for (const s of order) {
      try {
        const link = await this.swarm.links.linkTo(s.peer);
        this.leaves = await link.fetch(this.id, this.size, { hash: this.hash, leavesOnly: true });
        break;
      } catch (e) {
        this.failed(s, e);
      }
    }
    if (!this.leaves) throw new TabmeshError('OBJECT_LOST', `no source gave the leaves of ${this.id}`);
    this.buf = allocBytes(this.size, true);
    // Readers that ask this one for leaves get these (served from the buffer being filled).
    rememberLeaves(this.buf, this.leaves);
  }

  async run(): Promise<Uint8Array> {
    for (const s of this.sources.values()) if (!s.full) this.tell(s);
    while (this.missing > 0) {
      this.schedule();
      if (this.missing === 0) break;
      const live = [...this.sources.values()].some((s) => !s.dropped);
      const inflight = [...this.sources.values()].some((s) => s.inflight > 0);
      if (!live || (!inflight && Date.now() - this.lastProgress > this.swarm.stallMs)) {
        throw new TabmeshError('OBJECT_LOST', `swarm fetch of ${this.id} stopped with ${this.missing} of ${this.chunks} chunks missing`);
      }
      await new Promise<void>((go) => {
        const t = setTimeout(go, 100);
        this.wake = () => {
          clearTimeout(t);
          go();
        };
      });
    }
    this.flush();
    return this.buf!;
  }

  end(): void {
    this.ended = true;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
  }

  /** The buffer, when chunks [from, end) are all held. */
  holds(from: number, end: number): Uint8Array | undefined {
    if (!this.buf || from % CHUNK_DATA_BYTES !== 0) return undefined;
    const last = Math.min(this.chunks, Math.ceil(end / CHUNK_DATA_BYTES));
    for (let c = from / CHUNK_DATA_BYTES; c < last; c++) if (this.state[c] !== HELD) return undefined;
    return this.buf;
  }

  onHave(peer: string, h: Have): void {
    const s = this.addSource(peer, false);
    if (s.dropped) return;
    if (!s.told) this.tell(s);
    s.heard = true;
    const now = Date.now();
    for (const c of h.have) {
      if (c >= this.chunks || !s.has || s.has[c] === 1) continue;
      s.has[c] = 1;
      this.holders[c]++;
    }
    for (const c of h.claim) if (c < this.chunks) s.claims.set(c, now);
    this.lastProgress = now;
    this.wake();
  }

  /** Sends `s` this side's whole state (it then gets the changes). */
  private tell(s: Source): void {
    s.told = true;
    const have: number[] = [];
    const claim: number[] = [];
    for (let c = 0; c < this.chunks; c++) {
      if (this.state[c] === HELD) have.push(c);
      else if (this.state[c] === ASKED) claim.push(c);
    }
    void this.swarm.links.linkTo(s.peer).then(
      (link) => sendHaves(link, this.id, have, claim),
      (e: unknown) => this.failed(s, e),
    );
  }

  /** Asks every source with room for runs of chunks this side lacks. */
  private schedule(): void {
    // One run per source a round, so no source (the first full holder, often the origin) gets them all.
    for (let more = true; more;) {
      more = false;
      for (const s of this.sources.values()) {
        if (s.dropped || s.inflight >= PER_SOURCE) continue;
        const run = this.pick(s);
        if (!run) continue;
        this.request(s, run[0], run[1]);
        more = true;
      }
    }
  }

  /** Whether this side may ask `s` for chunk `c` now. */
  private wants(s: Source, c: number, now: number): boolean {
    if (this.state[c] !== MISSING) return false;
    if (!s.full) return s.has![c] === 1;
    // A full holder: only chunks no other reader holds or has lately claimed.
    for (const o of this.sources.values()) {
      if (o === s || o.full || o.dropped) continue;
      if (o.has![c] === 1) return false;
      const at = o.claims.get(c);
      if (at !== undefined && now - at < CLAIM_MS) return false;
    }
    return true;
  }

  /** A run [first, end) of chunks to ask `s` for, or null. */
  private pick(s: Source): [number, number] | null {
    const now = Date.now();
    // Full holders wait until the readers told have answered (what they hold is not asked of the origin), or briefly.
    if (s.full && now - this.started < HEAR_MS) {
      for (const o of this.sources.values()) if (!o.full && !o.dropped && o.told && !o.heard) return null;
    }
    const c = this.swarm.order === 'rarest' ? this.rarest(s, now) : this.firstFrom(this.spot, s, now);
    if (c < 0) return null;
    let e = c + 1;
    while (e < this.chunks && e - c < RUN_CHUNKS && this.wants(s, e, now)) e++;
    return [c, e];
  }

  /** Of the chunks `s` may be asked for, one that the fewest sources hold (ties at random); -1 if none. */
  private rarest(s: Source, now: number): number {
    let best = -1;
    let fewest = Infinity;
    let ties = 0;
    for (let c = 0; c < this.chunks; c++) {
      if (this.holders[c] > fewest || !this.wants(s, c, now)) continue;
      if (this.holders[c] < fewest) {
        fewest = this.holders[c];
        best = c;
        ties = 1;
      } else if (this.swarm.rand() * ++ties < 1) best = c;
    }
    return best;
  }

  /** The first chunk from `spot` on that `s` may be asked for; -1 if none. */
  private firstFrom(spot: number, s: Source, now: number): number {
    for (let i = 0; i < this.chunks; i++) {
      const c = (spot + i) % this.chunks;
      if (this.wants(s, c, now)) return c;
    }
    return -1;
  }

  private request(s: Source, first: number, end: number): void {
    for (let c = first; c < end; c++) this.state[c] = ASKED;
    if (s.full) for (let c = first; c < end; c++) this.outClaim.push(c);
    this.scheduleFlush();
    s.inflight++;
    const from = first * CHUNK_DATA_BYTES;
    const to = Math.min(this.size, end * CHUNK_DATA_BYTES);
    // Chunks wholly in [from, upTo) arrived and checked; the rest go back to be asked for again.
    const done = (upTo: number) => {
      for (let c = first; c < end; c++) {
        if (Math.min(this.size, (c + 1) * CHUNK_DATA_BYTES) <= upTo) {
          if (this.state[c] !== HELD) this.held(c, s.full);
        } else if (this.state[c] === ASKED) this.state[c] = MISSING;
      }
    };
    void this.swarm.links
      .linkTo(s.peer)
      .then((link) => link.fetch(this.id, this.size, { leaves: this.leaves!, into: this.buf!, from, to }))
      .then(
        () => done(to),
        (e: unknown) => {
          done(e instanceof BadChunkError && e.partial ? e.partial.received : from);
          this.failed(s, e);
        },
      )
      .finally(() => {
        s.inflight--;
        this.wake();
      });
  }

  private held(c: number, fromFull: boolean): void {
    this.state[c] = HELD;
    this.missing--;
    const n = c === this.chunks - 1 ? this.size - c * CHUNK_DATA_BYTES : CHUNK_DATA_BYTES;
    if (fromFull) this.swarm.stats.fromFull += n;
    else this.swarm.stats.fromReaders += n;
    this.lastProgress = Date.now();
    this.outHave.push(c);
    this.scheduleFlush();
  }

  /** A request to `s` failed: it is not asked again for this object (a link that broke or stalled, as on the one-holder path). */
  private failed(s: Source, e: unknown): void {
    if (s.dropped) return;
    s.dropped = true;
    if (s.has) for (let c = 0; c < this.chunks; c++) if (s.has[c] === 1) this.holders[c]--;
    if (e instanceof BadChunkError) this.swarm.report.bad(this.id, s.peer, e.message);
    else this.swarm.report.dropped?.(this.id, s.peer, (e as Error).message);
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== null || this.ended) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, FLUSH_MS);
  }

  /** Sends the chunks held and claimed since the last flush to the readers told. */
  private flush(): void {
    if (this.outHave.length === 0 && this.outClaim.length === 0) return;
    const have = this.outHave.splice(0);
    const claim = this.outClaim.splice(0);
    for (const s of this.sources.values()) {
      if (s.full || s.dropped || !s.told) continue;
      const link = this.swarm.links.links.get(s.peer);
      if (link?.state === 'open') sendHaves(link, this.id, have, claim);
    }
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** Sends `have` and `claim` in messages of at most HAVE_PER_MESSAGE indices. */
function sendHaves(link: { sendHave(h: Have): void }, id: ObjectId, have: number[], claim: number[]): void {
  let i = 0;
  let j = 0;
  do {
    const h = have.slice(i, i + HAVE_PER_MESSAGE);
    const c = claim.slice(j, j + HAVE_PER_MESSAGE - h.length);
    i += h.length;
    j += c.length;
    link.sendHave({ id, have: h, claim: c });
  } while (i < have.length || j < claim.length);
}
