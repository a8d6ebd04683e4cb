// The receiving side of one peer link: transfers this side asked for, their
// chunks checked one by one against the leaves the holder sent first (issue
// 17), and their stall clocks.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { allocBytes } from '../bytes.js';
import { copyInto } from '../shared-memory.js';
import { CHUNK_DATA_BYTES, WIRE_VERSION, type Chunk, type Control, type Leaves } from './wire.js';
import type { FanWord } from './fan-out.js';
import { PlacedMap, type Placement } from './placement.js';
import { LEAF_BYTES, chunkCount, chunksMatchingAsync, rememberLeaves, rootOf } from '../hash.js';
import { BadChunkError, CancelledError, StalledError, type FetchOptions } from './fetch-errors.js';

/** What the receiving side needs of its link. */
export interface ReceiveChannel {
  readonly peer: string;
  sendControl(c: Control): void;
  /** Bytes handed to the channel so far, and of those, bytes that left. */
  queuedBytes(): number;
  drained(): number;
  /** Object bytes per chunk to ask the holder for (stream links: up to MAX_CHUNK_DATA_BYTES); one leaf when undefined. */
  chunkBytes(): number | undefined;
  /** Chunks are about to be asked for (a stream link's reader turns to reading heads alone: RawPeer.expectChunks). */
  expectChunks?(): void;
  readonly counters: { bytesIn: number };
}

interface Incoming {
  id: ObjectId;
  size: number;
  /** Where the requested range ends (the size, unless a swarm run). */
  to: number;
  /** Most object bytes per chunk (asked with `c`). */
  per: number;
  leavesOnly: boolean;
  gotLeaves?: (leaves: Uint8Array) => void;
  /** The holder's word on it (asked with `f`), and whether it says fill (fan-out.ts). */
  onFan?: (m: FanWord, fill: boolean) => void;
  buf: Uint8Array | null;
  /** Bytes arrived (in `buf`), and of those checked against their leaves (a chunk boundary). */
  received: number;
  verified: number;
  /** Where the arrived bytes not yet handed to a check start (checks go by CHECK_BYTES, or to `to`). */
  unchecked: number;
  /** Chunk checks in arrival order (each waits for the one before). */
  checks: Promise<void>;
  hash?: string;
  leaves: Uint8Array | null;
  leavesGot: number;
  lastAt: number;
  /**
   * Where the request sits in this side's send queue: it has left once the
   * queue drained `reqAfter` bytes (see `drained`).
   */
  reqAfter: number;
  resolve: (b: Uint8Array) => void;
  reject: (e: Error) => void;
  /** The chunk a stream link is putting in place (place()). */
  placed?: Placement;
}

/**
 * Arrived bytes of chunks of several leaves are checked against their leaves
 * this many at a time, or fewer at the end of the range asked (a swarm run):
 * one hasher request a run of a tab's data channel (issue 17, session 14: a
 * request per 192 KiB message cost the reader's main thread a post and a reply
 * each, 571 for 64 MiB where runs are 256). Bytes not yet checked when a
 * transfer is taken back are asked for again.
 */
export const CHECK_BYTES = 16 * CHUNK_DATA_BYTES;

export class Receiving {
  /** Ending a transfer tells a stream link reading its chunk in place (PlacedMap). */
  private readonly incoming = new PlacedMap<number, Incoming>();
  private nextX = 1;
  /**
   * When a chunk of any transfer last arrived. The holder's chunks queue in
   * one channel (up to SEND_HIGH_WATER), so a transfer's first chunk waits
   * behind the others': on a slow link it is late, not stalled.
   */
  private lastChunkAt = 0;
  /** The drained count at the last stall check, and when it last moved. */
  private drainedSeen = 0;
  private drainedAt = Date.now();

  constructor(private readonly ch: ReceiveChannel) {}

  get size(): number {
    return this.incoming.size;
  }

  /** When this side's send queue was last seen to drain (checked with the stalls). */
  get drainedSince(): number {
    return this.drainedAt;
  }

  /** Asks the other side for object `id` of `size` bytes. */
  fetch(id: ObjectId, size: number, opts: FetchOptions): Promise<Uint8Array> {
    const x = this.nextX++;
    const into = opts.into && opts.into.byteLength === size ? opts.into : null;
    const from = into ? (opts.from ?? 0) : 0;
    const to = opts.leavesOnly ? 0 : into ? Math.min(size, opts.to ?? size) : size;
    const given = opts.leaves && opts.leaves.byteLength === chunkCount(size) * LEAF_BYTES ? opts.leaves : null;
    const per = this.ch.chunkBytes() ?? CHUNK_DATA_BYTES;
    return new Promise((resolve, reject) => {
      const leaves = given ?? (opts.hash ? new Uint8Array(chunkCount(size) * LEAF_BYTES) : null);
      if (opts.cancel) {
        opts.cancel.cancel = () => {
          const t = this.incoming.get(x);
          if (!t) return 0;
          this.incoming.delete(x);
          this.ch.sendControl({ k: 'cancel', x });
          t.reject(new CancelledError(t.verified));
          return t.verified;
        };
      }
      this.incoming.set(x, {
        id,
        size,
        to,
        per,
        leavesOnly: opts.leavesOnly === true,
        gotLeaves: opts.gotLeaves,
        onFan: opts.onFan,
        buf: into,
        received: from,
        verified: from,
        unchecked: from,
        checks: Promise.resolve(),
        hash: opts.hash,
        leaves,
        leavesGot: given ? given.byteLength : 0,
        lastAt: Date.now(),
        reqAfter: this.ch.queuedBytes(),
        resolve,
        reject,
      });
      const req: Control = { k: 'req', x, id, v: WIRE_VERSION };
      if (from) req.o = from;
      // A range to the end is a range too: a reader still fetching serves it only when told where it ends (serve: partial).
      if (to < size || opts.to !== undefined) req.e = to;
      if (leaves && !given) req.h = true;
      if (per !== CHUNK_DATA_BYTES) req.c = per;
      if (opts.onFan) req.f = true;
      this.ch.expectChunks?.();
      this.ch.sendControl(req);
    });
  }

  /**
   * Fails incoming transfers when neither they nor any other transfer on the
   * link got a chunk for `stallMs`, counted from when their request left this
   * side's queue: a request waits behind the chunks this side is sending the
   * same peer (one ordered channel), and a peer that reads slowly takes long
   * to get it while nothing is wrong (issue 17: busy tabs fell back to the
   * relay). A queue that does not drain at all for `stallMs` stalls them too.
   */
  checkStalls(now: number, stallMs: number): void {
    const drained = this.ch.drained();
    if (drained !== this.drainedSeen) {
      this.drainedSeen = drained;
      this.drainedAt = now;
    }
    for (const [x, t] of this.incoming) {
      if (drained < t.reqAfter) {
        t.lastAt = now; // its clock starts once the request left
        if (now - this.drainedAt < stallMs) continue;
      } else if (now - Math.max(t.lastAt, this.lastChunkAt) < stallMs) continue;
      this.incoming.delete(x);
      const why =
        drained < t.reqAfter
          ? 'its request still queued here'
          : this.lastChunkAt
            ? `nothing from the peer for ${now - this.lastChunkAt} ms`
            : 'nothing ever from the peer';
      // Rejected before the cancel goes: a send that fails closes the link, and the swarm hears of the stall first.
      t.reject(new StalledError(`transfer of ${t.id} from ${this.ch.peer} stalled for ${stallMs} ms (${why}; at ${t.received} of ${t.to})`));
      this.ch.sendControl({ k: 'cancel', x });
    }
  }

  /**
   * The link closed: every transfer fails with `err`, or, when the peer
   * broke the protocol, as from a bad holder (what checked out is kept, the
   * rest comes from another holder).
   */
  failAll(err: Error, peerFault = false): void {
    const all = [...this.incoming.values()];
    this.incoming.clear();
    for (const t of all) {
      if (!peerFault) t.reject(err);
      else t.reject(new BadChunkError(this.ch.peer, err.message, t.buf ? { buf: t.buf, received: t.verified } : null));
    }
  }

  /** The holder cannot serve transfer `x`. */
  onFail(x: number, reason: string): void {
    const t = this.incoming.get(x);
    if (!t) return;
    this.incoming.delete(x);
    t.reject(new TabmeshError('OBJECT_LOST', `${this.ch.peer} cannot serve ${t.id}: ${reason}`));
  }

  /** The holder's word on transfer `x` (fan-out.ts); none asked: ignored. */
  onFan(x: number, m: FanWord, fill: boolean): void {
    this.incoming.get(x)?.onFan?.(m, fill);
  }

  /** Ends transfer `x` with a holder at fault. */
  private bad(x: number, t: Incoming, why: string, keep: boolean): void {
    this.incoming.delete(x);
    this.ch.sendControl({ k: 'cancel', x });
    const partial = keep && t.buf ? { buf: t.buf, received: t.verified } : null;
    t.reject(new BadChunkError(this.ch.peer, `transfer of ${t.id} from ${this.ch.peer}: ${why}`, partial));
  }

  onLeaves(l: Leaves): void {
    this.lastChunkAt = Date.now();
    const t = this.incoming.get(l.x);
    if (!t) return;
    if (!t.leaves || l.i * LEAF_BYTES !== t.leavesGot || t.leavesGot + l.d.byteLength > t.leaves.byteLength) {
      return this.bad(l.x, t, 'leaves out of place', false);
    }
    t.leaves.set(l.d, t.leavesGot);
    t.leavesGot += l.d.byteLength;
    t.lastAt = Date.now();
    if (t.leavesGot < t.leaves.byteLength) return;
    if (rootOf(t.leaves) !== t.hash) return this.bad(l.x, t, 'its leaves do not match the object hash', true);
    if (t.leavesOnly) {
      this.incoming.delete(l.x);
      t.resolve(t.leaves);
    } else t.gotLeaves?.(t.leaves);
  }

  /**
   * Stream links (issue 17): where the data of a chunk whose header just
   * arrived goes, so the link copies it there as it comes (no frame
   * assembled, no second copy); undefined when it does not fit (the chunk
   * then arrives whole and is refused by onChunk). Live only while the
   * transfer is: bytes of a transfer that failed meanwhile are not written.
   */
  place(x: number, o: number, n: number, len: number): Placement | undefined {
    const t = this.incoming.get(x);
    if (!t || t.leavesOnly || n !== t.size || o !== t.received || len > t.per || o + len > t.to) return undefined;
    if (t.leaves && t.leavesGot !== t.leaves.byteLength) return undefined;
    if (t.buf === null) t.buf = allocBytes(n, true);
    t.placed = { dest: t.buf.subarray(o, o + len), live: () => this.incoming.get(x) === t };
    return t.placed;
  }

  onChunk(c: Chunk): void {
    const now = Date.now();
    this.lastChunkAt = now;
    const t = this.incoming.get(c.x);
    if (!t) return; // cancelled meanwhile
    const len = c.d.byteLength;
    // One sender, an ordered channel: chunks of a transfer arrive in order.
    if (len > t.per) return this.bad(c.x, t, `chunk ${c.o}+${len} is larger than the ${t.per} bytes asked`, true);
    if (c.n !== t.size || c.o !== t.received || c.o + len > t.to) {
      this.incoming.delete(c.x);
      this.ch.sendControl({ k: 'cancel', x: c.x });
      t.reject(new TabmeshError('BAD_MESSAGE', `transfer of ${t.id} from ${this.ch.peer}: chunk ${c.o}+${len} of ${c.n} does not fit`));
      return;
    }
    const checked = t.leaves !== null && t.size > 0;
    if (checked) {
      if (t.leavesGot !== t.leaves!.byteLength) return this.bad(c.x, t, 'a chunk before the leaves', true);
      // Whole leaves (the last one of the object may be short).
      if (len === 0 || (len % CHUNK_DATA_BYTES !== 0 && c.o + len !== c.n)) return this.bad(c.x, t, `chunk at ${c.o} is not whole leaves`, true);
    }
    if (t.buf === null) t.buf = allocBytes(c.n, true);
    // A stream link may have put it in place already (place()).
    if (c.d.buffer !== t.buf.buffer || c.d.byteOffset !== t.buf.byteOffset + c.o) copyInto(t.buf, c.o, c.d);
    t.received += len;
    t.lastAt = now;
    this.ch.counters.bytesIn += len;
    if (!checked) {
      if (t.received >= t.to) this.finish(c.x, t);
      return;
    }
    // One-leaf chunks (Node's WebRTC, the sim's links) are checked one by one as before: unmeasured there.
    if (t.per === CHUNK_DATA_BYTES || t.received - t.unchecked >= CHECK_BYTES || t.received >= t.to) this.check(c.x, t);
  }

  /**
   * Checks the arrived bytes not checked yet, each leaf on its own against its
   * hash (issue 17), in place in the buffer (no copy held), off the main thread
   * where the platform hashes so. Checks run as bytes arrive (several at once);
   * their outcomes are taken in order.
   */
  private check(x: number, t: Incoming): void {
    const at = t.unchecked;
    const len = t.received - at;
    t.unchecked = t.received;
    const leaves = chunkCount(len);
    const matching = chunksMatchingAsync(t.leaves!, at / CHUNK_DATA_BYTES, t.buf!.subarray(at, at + len));
    t.checks = t.checks.then(async () => {
      const m = await matching;
      if (this.incoming.get(x) !== t) return;
      t.verified = Math.min(at + len, at + m * CHUNK_DATA_BYTES);
      if (m < leaves) return this.bad(x, t, `chunk at ${at + m * CHUNK_DATA_BYTES} does not match its hash`, true);
      if (t.verified >= t.to) this.finish(x, t);
    });
  }

  /** Transfer `x` is complete (and checked): hand its bytes over. */
  private finish(x: number, t: Incoming): void {
    this.incoming.delete(x);
    // Checked leaves: this reader serves the object onward without hashing it again.
    if (t.leaves && t.to === t.size) rememberLeaves(t.buf!, t.leaves);
    t.resolve(t.buf!);
  }
}
