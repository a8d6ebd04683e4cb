// One peer link: a data channel to one other peer and the transfers on it in
// both directions. Outgoing transfers share the channel fairly (one chunk
// each in turn) and stop while the channel's queue is above a high-water mark,
// so nothing queues without bound.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { allocBytes, expose } from '../bytes.js';
import type { RawPeer } from './raw-peer.js';
import type { ServingBudget } from './serving.js';
import { SourceCursor, heldWhileServing, memorySource, type ObjectSource } from './source.js';
import {
  CHUNK_DATA_BYTES,
  CHUNK_HEADER_BYTES,
  LEAVES_PER_MESSAGE,
  chunkHeader,
  readMessage,
  writeChunk,
  writeControl,
  writeLeaves,
  type Chunk,
  type Control,
  type Leaves,
} from './wire.js';
import { LEAF_BYTES, chunkCount, chunkMatchesAsync, rememberLeaves, rootOf } from '../hash.js';

/** A sender waits while the channel holds this much. */
export const SEND_HIGH_WATER = 2 << 20;
/** How often a waiting sender looks again where the platform fires no drain event. */
const DRAIN_POLL_MS = 2;

/** Test-only faults, set on the serving side (issue 4's "fault hook"). */
export interface LinkFaults {
  /** Flip a byte in each of the next N chunks sent. */
  corruptChunks?: number;
  /** Tear the link down once this many bytes of one transfer have been sent. */
  cutAfterBytes?: number;
}

export interface LinkEnv {
  /** An object held here, to serve: its bytes, or a source that streams it from a lower tier. */
  lookup(id: ObjectId): Promise<Uint8Array | ObjectSource | undefined>;
  /** The node's cap on bytes being served at once (shared by its links). */
  serving: ServingBudget;
  faults: LinkFaults;
  counters: { bytesIn: number; bytesOut: number };
  /** The link closed: the pool forgets it. */
  closed(link: PeerLink, why: string): void;
  log(text: string): void;
}

/**
 * A holder sent a chunk (or leaves) that does not match the object's hash
 * (issue 17). What arrived before it checked out: `partial` holds it, for the
 * rest to come from another holder.
 */
export class BadChunkError extends TabmeshError {
  constructor(
    readonly peer: string,
    message: string,
    readonly partial: { buf: Uint8Array; received: number } | null,
  ) {
    super('OBJECT_LOST', message);
  }
}

export interface FetchOptions {
  /** The object's hash: each chunk is checked against the leaves the holder sends first. */
  hash?: string;
  /** Resume: bytes [0, from) are already in `into` (a chunk boundary). */
  from?: number;
  into?: Uint8Array;
}

interface Incoming {
  id: ObjectId;
  size: number;
  buf: Uint8Array | null;
  /** Bytes arrived (in `buf`), and of those checked against their leaves (a chunk boundary). */
  received: number;
  verified: number;
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
}

interface Outgoing {
  x: number;
  /** What it counts against the serving budget under (the bytes in memory, else itself). */
  hold: object;
  cursor: SourceCursor;
}

export type LinkState = 'connecting' | 'open' | 'closed';

export class PeerLink {
  state: LinkState = 'connecting';
  lastUsed = Date.now();
  readonly opened: Promise<void>;
  private openedResolve!: () => void;
  private openedReject!: (e: Error) => void;
  private readonly incoming = new Map<number, Incoming>();
  private readonly outgoing = new Map<number, Outgoing>();
  /** Outgoing transfers in turn order. */
  private queue: Outgoing[] = [];
  private nextX = 1;
  private drainTimer: unknown = null;
  /**
   * When a chunk of any transfer last arrived. The holder's chunks queue in
   * one channel (up to SEND_HIGH_WATER), so a transfer's first chunk waits
   * behind the others': on a slow link it is late, not stalled.
   */
  private lastChunkAt = 0;
  /** Bytes handed to the channel so far; minus its buffered amount, bytes that left. */
  private queuedBytes = 0;
  /** The drained count at the last stall check, and when it last moved. */
  private drainedSeen = 0;
  private drainedAt = Date.now();

  constructor(
    /** The other side's peer id. */
    readonly peer: string,
    /** Which connection attempt this is (signals of older ones are ignored). */
    readonly gen: string,
    readonly initiator: boolean,
    readonly raw: RawPeer,
    private readonly env: LinkEnv,
  ) {
    this.opened = new Promise((resolve, reject) => {
      this.openedResolve = resolve;
      this.openedReject = reject;
    });
    this.opened.catch(() => {});
    raw.onConnect = () => this.markOpen();
    raw.onData = (b) => this.onData(b);
    raw.onClose = (why) => this.close(why);
    raw.onDrain = () => this.pump();
  }

  private markOpen(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.lastUsed = Date.now();
    this.openedResolve();
  }

  /** Whether transfers are under way (an idle link may be closed). */
  get busy(): boolean {
    return this.incoming.size > 0 || this.outgoing.size > 0;
  }

  /** Asks the other side for object `id` of `size` bytes. Rejects if the link breaks or the holder cannot serve it. */
  fetch(id: ObjectId, size: number, opts: FetchOptions = {}): Promise<Uint8Array> {
    if (this.state !== 'open') return Promise.reject(new TabmeshError('CLOSED', `link to ${this.peer} is ${this.state}`));
    const x = this.nextX++;
    this.lastUsed = Date.now();
    const from = opts.into && opts.into.byteLength === size ? (opts.from ?? 0) : 0;
    return new Promise((resolve, reject) => {
      const leaves = opts.hash ? new Uint8Array(chunkCount(size) * LEAF_BYTES) : null;
      this.incoming.set(x, {
        id,
        size,
        buf: from ? opts.into! : null,
        received: from,
        verified: from,
        checks: Promise.resolve(),
        hash: opts.hash,
        leaves,
        leavesGot: 0,
        lastAt: Date.now(),
        reqAfter: this.queuedBytes,
        resolve,
        reject,
      });
      const req: Control = { k: 'req', x, id };
      if (from) req.o = from;
      if (opts.hash) req.h = true;
      this.sendControl(req);
    });
  }

  /** Bytes of this side's sends that left its queue. */
  private get drained(): number {
    return this.queuedBytes - this.raw.bufferedAmount;
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
    const drained = this.drained;
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
      this.sendControl({ k: 'cancel', x });
      t.reject(new TabmeshError('CLOSED', `transfer of ${t.id} from ${this.peer} stalled for ${stallMs} ms`));
    }
  }

  close(why: string): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    const err = new TabmeshError('CLOSED', `link to ${this.peer} closed: ${why}`);
    this.openedReject(err);
    for (const t of this.incoming.values()) t.reject(err);
    this.incoming.clear();
    for (const t of this.outgoing.values()) this.endOutgoing(t);
    this.outgoing.clear();
    this.queue = [];
    this.raw.destroy();
    if (wasOpen) this.env.log(`peer link to ${this.peer} closed: ${why}`);
    this.env.closed(this, why);
  }

  private sendRaw(b: Uint8Array): void {
    try {
      this.raw.send(b);
      this.queuedBytes += b.byteLength;
    } catch (e) {
      this.close(`send failed: ${(e as Error).message}`);
    }
  }

  private sendControl(c: Control): void {
    this.sendRaw(writeControl(c));
  }

  private onData(b: Uint8Array): void {
    if (this.state === 'closed') return;
    // The other side may see the channel open (and ask) before this side's connect event.
    this.markOpen();
    let m;
    try {
      m = readMessage(b);
    } catch (e) {
      return this.close(`bad message from the peer: ${(e as Error).message}`);
    }
    this.lastUsed = Date.now();
    if (m.chunk) return this.onChunk(m.chunk);
    if (m.leaves) return this.onLeaves(m.leaves);
    const c = m.control;
    if (c.k === 'req') void this.serve(c.x, c.id, c.o ?? 0, c.h === true);
    else if (c.k === 'cancel') this.dropOutgoing(c.x);
    else {
      const t = this.incoming.get(c.x);
      if (!t) return;
      this.incoming.delete(c.x);
      t.reject(new TabmeshError('OBJECT_LOST', `${this.peer} cannot serve ${t.id}: ${c.reason}`));
    }
  }

  /** Ends transfer `x` with a holder at fault. */
  private bad(x: number, t: Incoming, why: string, keep: boolean): void {
    this.incoming.delete(x);
    this.sendControl({ k: 'cancel', x });
    const partial = keep && t.buf ? { buf: t.buf, received: t.verified } : null;
    t.reject(new BadChunkError(this.peer, `transfer of ${t.id} from ${this.peer}: ${why}`, partial));
  }

  private onLeaves(l: Leaves): void {
    this.lastChunkAt = Date.now();
    const t = this.incoming.get(l.x);
    if (!t) return;
    if (!t.leaves || l.i * LEAF_BYTES !== t.leavesGot || t.leavesGot + l.d.byteLength > t.leaves.byteLength) {
      return this.bad(l.x, t, 'leaves out of place', false);
    }
    t.leaves.set(l.d, t.leavesGot);
    t.leavesGot += l.d.byteLength;
    t.lastAt = Date.now();
    if (t.leavesGot === t.leaves.byteLength && rootOf(t.leaves) !== t.hash) this.bad(l.x, t, 'its leaves do not match the object hash', true);
  }

  private onChunk(c: Chunk): void {
    this.lastChunkAt = Date.now();
    const t = this.incoming.get(c.x);
    if (!t) return; // cancelled meanwhile
    // One sender, an ordered channel: chunks of a transfer arrive in order.
    if (c.n !== t.size || c.o !== t.received || c.o + c.d.byteLength > c.n) {
      this.incoming.delete(c.x);
      this.sendControl({ k: 'cancel', x: c.x });
      t.reject(new TabmeshError('BAD_MESSAGE', `transfer of ${t.id} from ${this.peer}: chunk ${c.o}+${c.d.byteLength} of ${c.n} does not fit`));
      return;
    }
    const checked = t.leaves !== null && t.size > 0;
    if (checked) {
      if (t.leavesGot !== t.leaves!.byteLength) return this.bad(c.x, t, 'a chunk before the leaves', true);
      if (c.d.byteLength !== Math.min(CHUNK_DATA_BYTES, c.n - c.o)) return this.bad(c.x, t, `chunk at ${c.o} is not one whole leaf`, true);
    }
    if (t.buf === null) t.buf = allocBytes(c.n, true);
    t.buf.set(c.d, c.o);
    t.received += c.d.byteLength;
    t.lastAt = Date.now();
    this.env.counters.bytesIn += c.d.byteLength;
    if (!checked) {
      if (t.received >= t.size) this.finish(c.x, t);
      return;
    }
    // Each chunk on its own against its leaf (issue 17), in place in the
    // buffer (no copy held), off the main thread where the platform hashes so.
    const at = c.o;
    const piece = t.buf.subarray(at, at + c.d.byteLength);
    t.checks = t.checks.then(async () => {
      if (this.incoming.get(c.x) !== t) return;
      const ok = await chunkMatchesAsync(t.leaves!, at / CHUNK_DATA_BYTES, piece);
      if (this.incoming.get(c.x) !== t) return;
      if (!ok) return this.bad(c.x, t, `chunk at ${at} does not match its hash`, true);
      t.verified = at + piece.byteLength;
      if (t.verified >= t.size) this.finish(c.x, t);
    });
  }

  /** Transfer `x` is complete (and checked): hand its bytes over. */
  private finish(x: number, t: Incoming): void {
    this.incoming.delete(x);
    // Checked leaves: this reader serves the object onward without hashing it again.
    if (t.leaves) rememberLeaves(t.buf!, t.leaves);
    t.resolve(t.buf!);
  }

  private async serve(x: number, id: ObjectId, from: number, withLeaves: boolean): Promise<void> {
    let src: ObjectSource | undefined;
    try {
      const got = await this.env.lookup(id);
      src = got instanceof Uint8Array ? memorySource(got) : got;
    } catch {
      src = undefined;
    }
    if (this.state !== 'open') return;
    if (!src) return this.sendControl({ k: 'fail', x, reason: 'object not held here' });
    if (from > src.size) return this.sendControl({ k: 'fail', x, reason: 'offset past the end' });
    if (src.bytes) expose(src.bytes); // sent from in place, over time
    const hold: object = src.bytes ?? {};
    await this.env.serving.acquire(hold, heldWhileServing(src));
    if (this.state !== 'open') return this.env.serving.release(hold);
    if (withLeaves) {
      let leaves: Uint8Array;
      try {
        leaves = await src.leaves();
      } catch (e) {
        this.env.serving.release(hold);
        if (this.state === 'open') this.sendControl({ k: 'fail', x, reason: `cannot read it: ${(e as Error).message}` });
        return;
      }
      if (this.state !== 'open') return this.env.serving.release(hold);
      const per = LEAVES_PER_MESSAGE * LEAF_BYTES;
      for (let o = 0; o < leaves.byteLength; o += per) this.sendRaw(writeLeaves(x, o / LEAF_BYTES, leaves.subarray(o, o + per)));
    }
    const t: Outgoing = {
      x,
      hold,
      cursor: new SourceCursor(
        src,
        from,
        () => {
          // Its next window is read: back in turn.
          if (this.outgoing.get(x) !== t || this.state !== 'open') return;
          this.queue.push(t);
          this.pump();
        },
        (e) => {
          if (this.outgoing.get(x) !== t) return;
          this.dropOutgoing(x);
          if (this.state === 'open') this.sendControl({ k: 'fail', x, reason: `cannot read it: ${e.message}` });
        },
      ),
    };
    this.outgoing.set(x, t);
    this.queue.push(t);
    this.pump();
  }

  private dropOutgoing(x: number): void {
    const t = this.outgoing.get(x);
    if (!t) return;
    this.outgoing.delete(x);
    this.endOutgoing(t);
    this.queue = this.queue.filter((q) => q !== t);
  }

  private endOutgoing(t: Outgoing): void {
    t.cursor.close();
    this.env.serving.release(t.hold);
  }

  /** Sends chunks in turn while the channel has room. */
  private pump(): void {
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    while (this.queue.length > 0 && this.state === 'open') {
      if (this.raw.bufferedAmount >= SEND_HIGH_WATER) {
        this.drainTimer = setTimeout(() => {
          this.drainTimer = null;
          this.pump();
        }, DRAIN_POLL_MS);
        return;
      }
      const t = this.queue.shift()!;
      const c = t.cursor;
      const n = c.src.size;
      let d = c.chunk(CHUNK_DATA_BYTES);
      if (d === null) continue; // its window is being read: back in turn once it is
      const end = c.o + d.byteLength;
      const f = this.env.faults;
      if (f.corruptChunks && d.byteLength > 0) {
        f.corruptChunks--;
        d = d.slice();
        d[d.byteLength >> 1] ^= 0xff;
      }
      try {
        if (this.raw.sendv) this.raw.sendv([chunkHeader(t.x, c.o, n), d]);
        else this.raw.send(writeChunk(t.x, c.o, n, d));
        this.queuedBytes += CHUNK_HEADER_BYTES + d.byteLength;
      } catch (e) {
        return this.close(`send failed: ${(e as Error).message}`);
      }
      this.env.counters.bytesOut += d.byteLength;
      this.lastUsed = Date.now();
      c.o = end;
      if (f.cutAfterBytes !== undefined && c.o >= f.cutAfterBytes && c.o < n) {
        f.cutAfterBytes = undefined;
        return this.close('cut by a test fault');
      }
      if (c.o < n) this.queue.push(t);
      else {
        this.outgoing.delete(t.x);
        this.endOutgoing(t);
      }
    }
  }
}
