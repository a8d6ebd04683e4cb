// One swarm fetch (issue 17): the reader's chunk states, the runs it asks each
// source for (rarest first, full holders only for what no reader holds or
// claimed), and what it tells the readers (its whole state once; then the
// changes, batched: swarm-haves.ts).
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { allocBytes } from '../bytes.js';
import { chunkCount, rememberLeaves } from '../hash.js';
import type { Cancel } from './fetch-errors.js';
import { CHUNK_DATA_BYTES, type Have } from './wire.js';
import { SEND_HIGH_WATER } from './link-send.js';
import { FAN_STREAM, FAN_SWARM, type FanWord } from './fan-out.js';
import { newSource, sendHaves, type Source, type SwarmContext } from './swarm-source.js';
import { HaveOutbox } from './swarm-haves.js';
import { ASKED, CLAIM_RENEW_MS, HELD, RUN_CHUNKS, pick } from './swarm-pick.js';
import { LONE_RUN, PER_SOURCE, dropSource, readmit, windowOf } from './swarm-window.js';
import { filling, nodeFirst, streamedTo } from './swarm-policy.js';
import { ask, leavesOf, takeBack, type RequestHost } from './swarm-request.js';

export class SwarmFetch implements RequestHost {
  readonly chunks: number;
  readonly state: Uint8Array;
  private missing: number;
  readonly sources = new Map<string, Source>();
  /** Per chunk, the readers still asked that hold it (full holders hold every chunk: they do not change the order). */
  readonly holders: Uint16Array;
  leaves: Uint8Array | null = null;
  buf: Uint8Array | null = null;
  /** The have messages to the readers told, batched (swarm-haves.ts). */
  private readonly out: HaveOutbox;
  /** Per chunk asked of a full holder, when this side last claimed it (0: not asked of one); renewed while it waits. */
  readonly claimedAt: Float64Array;
  private nextRenew = 0;
  private waker: () => void = () => {};
  private lastProgress = Date.now();
  /** Where this reader starts looking for chunks to ask a full holder for. */
  readonly spot: number;
  /** No reader is a source (yet): full holders get a growing window (swarm-window.ts). */
  private alone = true;
  /** Requests to full holders that may be taken back (swarm-request.ts). */
  readonly toFull = new Map<Cancel, { bytes: number; s: Source; extra: boolean }>();
  /** Keeping to Node sources while a Node full holder keeps up (swarm-policy.ts); once off, off for this fetch. */
  nodeFirst = false;
  /** Kept to because a holder streams to it (FAN_STREAM): the readers are told, every missing chunk claimed. */
  private streaming = false;
  /** The readers known are told of this side's chunks (not while keeping to a Node source alone): those asked again too. */
  private telling = false;

  constructor(
    readonly swarm: SwarmContext,
    readonly id: ObjectId,
    readonly size: number,
    readonly hash: string,
  ) {
    this.chunks = chunkCount(size);
    this.state = new Uint8Array(this.chunks);
    this.holders = new Uint16Array(this.chunks);
    this.claimedAt = new Float64Array(this.chunks);
    this.missing = this.chunks;
    this.out = new HaveOutbox(this);
    this.spot = Math.floor(swarm.rand() * this.chunks);
  }

  addSource(peer: string, full: boolean): Source {
    let s = this.sources.get(peer);
    if (!s) {
      s = newSource(peer, full, this.chunks, RUN_CHUNKS, PER_SOURCE);
      this.sources.set(peer, s);
    } else if (full && !s.listed) {
      s.listed = true;
      this.asFull(s);
    }
    return s;
  }

  /**
   * A reader that is also a location of the object but whose have map holds
   * none of it (its upload is capped: swarm.ts have) is asked as a full
   * holder: only for what no reader holds, beside the others.
   */
  private asFull(s: Source): void {
    if (s.full || !s.listed || !s.heard || s.has!.includes(1)) return;
    s.full = true;
    s.has = null;
    s.claims.clear();
    this.wake();
  }

  /**
   * The leaves, from full holders first; each set checked against the hash. A source dropped to be asked again (a
   * stale link the peer had closed, a stall, a link slow to open: swarm-window.ts dropSource) is asked again after
   * its backoff, not given up for the relay: the edge's request on a WebRTC link whose close had not reached it yet
   * sent the object through the relay (test/p2p/ws-link, CI of session 18).
   */
  async getLeaves(): Promise<void> {
    this.buf = allocBytes(this.size, true);
    for (;;) {
      const all = [...this.sources.values()];
      // No reader to share with: the first run comes with the leaves, one round trip less (a 1 MiB object in one).
      const lone = (this.alone = all.every((s) => s.full));
      for (const s of all.filter((s) => !s.dropped).sort((a, b) => Number(b.full) - Number(a.full))) {
        if ((this.leaves = await leavesOf(this, s, lone))) break;
      }
      if (this.leaves) break;
      // Waits for a source whose link went stale or stalled; one whose link did not open is not waited for here: the
      // relay serves now (4 link attempts and their backoffs cost a read ~27 s where links never open, e.g. a wrong
      // TURN secret); the swarm's run still asks it again later.
      const next = Math.min(...all.filter((s) => s.dropped && s.retryAt > 0 && !s.noLink).map((s) => s.retryAt));
      if (!Number.isFinite(next)) throw new TabmeshError('OBJECT_LOST', `no source gave the leaves of ${this.id}`);
      await this.pause(next - Date.now());
      readmit(this, Date.now());
    }
    // Readers that ask this one for leaves get these (served from the buffer being filled).
    rememberLeaves(this.buf, this.leaves);
  }

  /** Waits `ms` at most: a have message or an answer (wake) ends the wait. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((go) => {
      const t = setTimeout(go, Math.max(0, ms));
      this.waker = () => {
        clearTimeout(t);
        go();
      };
    });
  }

  async run(): Promise<Uint8Array> {
    this.nodeFirst = this.swarm.preferNode && nodeFirst(this.sources.values(), Date.now());
    if (this.nodeFirst) this.swarm.stats.nodeFirst++;
    else this.tellReaders();
    while (this.missing > 0) {
      readmit(this, Date.now());
      if (this.telling) this.tellReaders(); // readers asked again whose link had not opened
      this.keepToNode(Date.now());
      this.renewClaims(Date.now());
      this.schedule();
      if (this.missing === 0) break;
      const live = [...this.sources.values()].some((s) => !s.dropped);
      const waiting = [...this.sources.values()].some((s) => s.dropped && s.retryAt > 0);
      const inflight = [...this.sources.values()].some((s) => s.inflight > 0);
      if ((!live && !waiting) || (!inflight && !waiting && Date.now() - this.lastProgress > this.swarm.stallMs)) {
        throw new TabmeshError('OBJECT_LOST', `swarm fetch of ${this.id} stopped with ${this.missing} of ${this.chunks} chunks missing`);
      }
      await this.pause(100);
    }
    this.out.flush();
    const from: Record<string, number> = {};
    for (const s of this.sources.values()) if (s.got > 0) from[s.peer] = s.got;
    this.swarm.stats.lastFrom = from;
    return this.buf!;
  }

  /**
   * The Node full holder no longer keeps up, failed, or said to take from the
   * swarm: the rest comes from the swarm (what was asked of it past what its
   * channel holds is taken back). While a holder streams to this reader, it
   * tells the readers and claims every chunk it lacks (renewClaims).
   */
  private keepToNode(now: number): void {
    if (!this.nodeFirst) return;
    if (nodeFirst(this.sources.values(), now)) {
      if (this.streaming || !streamedTo(this.sources.values())) return;
      this.streaming = true;
      this.swarm.stats.streamed++;
      this.nextRenew = 0;
      this.tellReaders();
      return;
    }
    this.nodeFirst = false;
    this.streaming = false;
    this.swarm.stats.turned++;
    takeBack(this, SEND_HIGH_WATER, (r) => r.s.word === FAN_SWARM);
    this.tellReaders();
  }

  /** A full holder's word (fan-out.ts): acted on at the next round. */
  heard(s: Source, m: FanWord, fill: boolean): void {
    if (m === FAN_STREAM && fill && !s.fill) {
      s.fill = true;
      this.swarm.stats.filled++;
      this.wake();
    }
    if (s.word === m) return;
    if (m === FAN_SWARM) this.swarm.stats.fanned++;
    s.word = m;
    this.wake();
  }

  /** Streamed to by a holder that said fill (fan-out.ts): what readers hold comes from them, the rest from it. */
  get fill(): boolean {
    return this.streaming && filling(this.sources.values());
  }

  wake(): void {
    this.waker();
  }

  /** Tells every reader known of this side's chunks (they then tell theirs). */
  private tellReaders(): void {
    this.telling = true;
    for (const s of this.sources.values()) if (!s.full && !s.told && !s.dropped) this.tell(s);
  }

  end(): void {
    this.out.end();
  }

  /**
   * The buffer, when chunks [from, end) are all held. Not before the leaves are in: a reader asking this one for
   * the leaves alone (an empty range) would get those of a buffer still empty, and name this one a liar.
   */
  holds(from: number, end: number): Uint8Array | undefined {
    if (!this.buf || !this.leaves || from % CHUNK_DATA_BYTES !== 0) return undefined;
    const last = Math.min(this.chunks, Math.ceil(end / CHUNK_DATA_BYTES));
    for (let c = from / CHUNK_DATA_BYTES; c < last; c++) if (this.state[c] !== HELD) return undefined;
    return this.buf;
  }

  onHave(peer: string, h: Have): void {
    const s = this.addSource(peer, false);
    if (s.dropped && s.retryAt === 0) return;
    if (this.alone) this.company();
    if (!s.told) this.tell(s);
    s.heard = true;
    const now = Date.now();
    for (const c of h.have) {
      if (c >= this.chunks || !s.has || s.has[c] === 1) continue;
      s.has[c] = 1;
      if (!s.dropped) this.holders[c]++;
    }
    // A source dropped on a stall that speaks again is asked again now.
    if (s.dropped) s.retryAt = now;
    for (const c of h.claim) if (c < this.chunks) s.claims.set(c, now);
    this.lastProgress = now;
    if (h.claim.length === 0) this.asFull(s);
    this.wake();
  }

  /**
   * Another reader showed up: the lone window's extra requests are taken back
   * (what arrived and checked stays), before it hears the claims; but not the
   * oldest, up to what a holder's channel holds (SEND_HIGH_WATER): those are
   * on their way already (a holder sends one reader's runs of an object in
   * order), and a cancel would only waste them (sim, 2 readers over 2 MB/s
   * channels: the origin sent 0.14 copies for nothing). They stay claimed.
   */
  private company(): void {
    this.alone = false;
    takeBack(this, SEND_HIGH_WATER, (r) => r.extra);
    for (const r of this.toFull.values()) r.extra = false;
  }

  /** Sends `s` this side's whole state (it then gets the changes). */
  private tell(s: Source): void {
    s.told = true;
    s.tellAt = Date.now();
    const have: number[] = [];
    const claim: number[] = [];
    for (let c = 0; c < this.chunks; c++) {
      if (this.state[c] === HELD) have.push(c);
      else if (this.state[c] === ASKED || this.streaming) claim.push(c);
    }
    void this.swarm.links.linkTo(s.peer, s.readmits > 0).then(
      (link) => {
        s.node = link.raw.remoteNode === true; // a Node reader may be asked while keeping to Node sources
        sendHaves(link, this.id, have, claim);
        s.toldAt = Date.now();
      },
      (e: unknown) => this.failed(s, e),
    );
  }

  /** Asks every source with room for runs of chunks this side lacks. */
  private schedule(): void {
    // One run per source a round, so no source (the first full holder, often the origin) gets them all.
    for (let more = true; more;) {
      more = false;
      for (const s of this.sources.values()) {
        // A Node full holder kept to gets a lone reader's window: no reader shares its chunks.
        const w = windowOf(s, this.alone || (this.nodeFirst && s.full));
        if (s.dropped || s.inflight >= w.depth) continue;
        const run = pick(this, s, w.run);
        if (!run) continue;
        // Only the growing window (swarm-window.ts) is taken back when another reader shows up: a stream link's fixed
        // one was queued at its holder (up to 16 MiB) and would be sent again (sim, session 11: 1.7 copies against 1.0).
        ask(this, s, run[0], run[1], undefined, this.alone && s.inflight > 0 && s.run < LONE_RUN);
        more = true;
      }
    }
    // Claims go out with the round that made them, not FLUSH_MS later: a reader that hears them late asks the origin too.
    if (this.out.claims > 0 && !this.alone) this.out.flush();
  }

  /**
   * Claims again the chunks still awaited from full holders that were last
   * claimed CLAIM_RENEW_MS ago or more; while a holder streams to this reader,
   * every chunk it lacks (it will have them from the holder).
   */
  private renewClaims(now: number): void {
    if (now < this.nextRenew) return;
    this.nextRenew = now + CLAIM_RENEW_MS;
    for (let c = 0; c < this.chunks; c++) {
      if (this.streaming && this.state[c] !== HELD) {
        this.out.claimed(c);
        continue;
      }
      if (this.state[c] !== ASKED || this.claimedAt[c] === 0 || now - this.claimedAt[c] < CLAIM_RENEW_MS) continue;
      this.claimedAt[c] = now;
      this.out.claimed(c);
    }
  }

  claimsRuns(): boolean {
    return !this.streaming;
  }

  claim(c: number): void {
    this.out.claimed(c);
  }

  held(c: number, fromFull: boolean): void {
    this.state[c] = HELD;
    this.missing--;
    const n = c === this.chunks - 1 ? this.size - c * CHUNK_DATA_BYTES : CHUNK_DATA_BYTES;
    if (fromFull) this.swarm.stats.fromFull += n;
    else this.swarm.stats.fromReaders += n;
    this.lastProgress = Date.now();
    this.out.held(c);
  }

  /** A request to `s` failed: dropped for this object, or asked again later if it stalled (swarm-window.ts). */
  failed(s: Source, e: unknown): void {
    dropSource(this, this.id, s, e);
    this.wake(); // a told reader that cannot be reached no longer holds the others back (swarm-pick.ts unheard)
  }
}
