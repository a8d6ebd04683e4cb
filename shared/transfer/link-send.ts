// The sending side of one peer link: objects this side serves. Outgoing
// transfers share the channel fairly (one chunk each in turn) and stop while
// the channel's queue is above a high-water mark, so nothing queues without
// bound.
import type { ObjectId } from '../ids.js';
import { expose, lendView, returnView } from '../bytes.js';
import type { ServingBudget } from './serving.js';
import { FAN_STREAM, type FanReader } from './fan-out.js';
import type { UploadCap } from './upload-cap.js';
import { SourceCursor, heldWhileServing, memorySource, type ObjectSource } from './source.js';
import { CHUNK_DATA_BYTES, LEAVES_PER_MESSAGE, writeLeaves, type Control } from './wire.js';
import { LEAF_BYTES } from '../hash.js';

/** A sender waits while the channel holds this much. */
export const SEND_HIGH_WATER = 2 << 20;
/** How often a waiting sender looks again where the platform fires no drain event. */
const DRAIN_POLL_MS = 2;
/**
 * Where it does (a data channel's 'bufferedamountlow'), the sender waits for
 * it and looks again after this only as a safety net: a hidden tab's timers
 * fire at most once a second, its events at once (issue 17).
 */
const DRAIN_FALLBACK_MS = 250;

/** Test-only faults, set on the serving side (issue 4's "fault hook"). */
export interface LinkFaults {
  /** Flip a byte in each of the next N chunks sent. */
  corruptChunks?: number;
  /** Tear the link down once this many bytes of one transfer have been sent. */
  cutAfterBytes?: number;
  /** Send chunks of this many object bytes, whatever the reader asked for. */
  chunkBytes?: number;
}

/** What the sending side needs of its link. */
export interface SendChannel {
  open(): boolean;
  bufferedAmount(): number;
  /** Bytes the channel may hold before a sender waits (SEND_HIGH_WATER unless the link says more). */
  highWater(): number;
  /** Whether the channel calls `Sending.drained` each time its queue falls below its low-water mark (else the sender polls). */
  drainEvents(): boolean;
  /** Whether the channel's send copied the bytes before it returned (RawPeer.sendCopies): it holds no view of a buffer sent from. */
  sendCopies(): boolean;
  sendRaw(b: Uint8Array): void;
  sendControl(c: Control): void;
  /** Sends one chunk message; false when the link broke doing so. */
  sendChunk(x: number, o: number, n: number, d: Uint8Array): boolean;
  close(why: string): void;
  lookup(id: ObjectId): Promise<Uint8Array | ObjectSource | undefined>;
  /** A reader still fetching `id` (swarm.ts): its buffer when chunks [from, end) are all in and checked. */
  partial(id: ObjectId, from: number, end: number): Uint8Array | undefined;
  readonly serving: ServingBudget;
  /** The node's cap on its upload (upload-cap.ts), shared by its links; null: none. */
  readonly upload: UploadCap | null;
  /** This link's reader of `id` with the holder's word to it (fan-out.ts); null: it says none. */
  fanReader(id: ObjectId, size: number): FanReader | null;
  readonly faults: LinkFaults;
  readonly counters: { bytesOut: number; sendWakes: SendWakes };
  log(text: string): void;
}

/** What woke a sender that waited on a full channel: the drain event, or its timer. */
export interface SendWakes {
  drain: number;
  timer: number;
}

interface Outgoing {
  x: number;
  id: ObjectId;
  /** The buffer sent from, lent while its bytes may still be read (see `letGoWhenSent`); null: exposed for good, or not in memory. */
  lease: SharedArrayBuffer | null;
  /** What it counts against the serving budget under (the bytes in memory, else itself). */
  hold: object;
  /** The next chunk, read ahead from the tier for a spilled object (source.ts). */
  cursor: SourceCursor;
  /** Where the requested range ends. */
  end: number;
  /** Object bytes per chunk (what the reader asked for). */
  per: number;
  /** Where it started, and when (for the log of a cancelled send). */
  from: number;
  at: number;
  /** Its reader at the holder's fan-out (asked with `f`), kept live while chunks go (fan-out.ts). */
  fan: FanReader | null;
}

export class Sending {
  private readonly outgoing = new Map<number, Outgoing>();
  /** Requests not yet sending: what each waits for (the object, the serving budget, its leaves), and since when. */
  private readonly starting = new Map<number, { phase: string; at: number }>();
  /** Outgoing transfers in turn order. */
  private queue: Outgoing[] = [];
  private drainTimer: unknown = null;
  /** Buffers sent from, lent until the channel holds no bytes (letGoWhenSent). */
  private sentFrom: SharedArrayBuffer[] = [];
  private sentTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly ch: SendChannel) {}

  get size(): number {
    return this.outgoing.size;
  }

  /** Serves transfer `x`; `fan`: the reader acts on the holder's word (fan-out.ts), said when this side holds the whole object. */
  async serve(x: number, id: ObjectId, from: number, to: number | undefined, withLeaves: boolean, per = CHUNK_DATA_BYTES, fan = false): Promise<void> {
    const ch = this.ch;
    const st = { phase: 'its lookup', at: Date.now() };
    this.starting.set(x, st);
    // A cancel while it waits ends it here (nothing is sent for it).
    const gone = () => this.starting.get(x) !== st || !ch.open();
    let src: ObjectSource | undefined;
    try {
      const got = await ch.lookup(id);
      src = got instanceof Uint8Array ? memorySource(got) : got;
    } catch {
      src = undefined;
    }
    // Said before the bytes (and the budget's wait): a reader told to swarm asks for no more.
    const reader = src && fan && !gone() ? ch.fanReader(id, src.size) : null;
    if (reader) ch.sendControl({ k: 'fan', x, m: reader.word, ...(reader.fill && reader.word === FAN_STREAM && { r: true as const }) });
    if (!src && to !== undefined) {
      const partial = ch.partial(id, from, to);
      if (partial) src = memorySource(partial);
    }
    if (gone()) return;
    if (!src) return this.refuse(x, 'object not held here');
    if (from > src.size) return this.refuse(x, 'offset past the end');
    const end = Math.min(src.size, to ?? src.size);
    // Counted when asked, not as sent: a streamed reader's runs are queued here at once, past any later word.
    if (reader) reader.asked += Math.max(0, end - from);
    if (end < src.size && end % CHUNK_DATA_BYTES !== 0) return this.refuse(x, 'range end not at a chunk boundary');
    // Sent from in place, over time: the buffer is lent until the channel let go of its bytes
    // (the store may free the object meanwhile; its buffer is reused after), else exposed for good.
    const lease = src.bytes ? lendView(src.bytes) : null;
    if (src.bytes && !lease) expose(src.bytes);
    // Issue 17: a spilled object streams from its tier, holding its read-ahead only.
    const hold: object = src.bytes ?? {};
    const quit = () => {
      ch.serving.release(hold);
      if (lease) returnView(lease); // nothing of it was handed to the channel
    };
    st.phase = 'the serving budget';
    await ch.serving.acquire(hold, heldWhileServing(src));
    if (gone()) return quit();
    if (withLeaves) {
      st.phase = 'its leaves';
      let leaves: Uint8Array;
      try {
        leaves = await src.leaves();
      } catch (e) {
        quit();
        if (!gone()) this.refuse(x, `cannot read it: ${(e as Error).message}`);
        return;
      }
      if (gone()) return quit();
      const per = LEAVES_PER_MESSAGE * LEAF_BYTES;
      for (let o = 0; o < leaves.byteLength; o += per) ch.sendRaw(writeLeaves(x, o / LEAF_BYTES, leaves.subarray(o, o + per)));
    }
    this.starting.delete(x);
    const t: Outgoing = {
      x,
      id,
      lease,
      hold,
      end,
      per,
      from,
      at: Date.now(),
      fan: reader,
      cursor: new SourceCursor(
        src,
        from,
        () => {
          // Its next window is read: back in turn.
          if (this.outgoing.get(x) !== t || !ch.open()) return;
          this.queue.push(t);
          this.pump();
        },
        (e) => {
          if (this.outgoing.get(x) !== t) return;
          this.drop(x);
          if (ch.open()) ch.sendControl({ k: 'fail', x, reason: `cannot read it: ${e.message}` });
        },
      ),
    };
    this.outgoing.set(x, t);
    this.queue.push(t);
    this.pump();
  }

  /** Transfer `x` cannot be served. */
  private refuse(x: number, reason: string): void {
    this.starting.delete(x);
    this.ch.sendControl({ k: 'fail', x, reason });
  }

  /** The reader gave up on transfer `x` (its stall clock ran out, or it has the chunks from elsewhere). */
  cancel(x: number): void {
    const st = this.starting.get(x);
    if (st) {
      this.starting.delete(x);
      this.ch.log(`a request cancelled by the reader after ${Date.now() - st.at} ms waiting for ${st.phase}`);
    }
    const t = this.outgoing.get(x);
    if (t && t.cursor.o < t.end) {
      const waits = t.cursor.o === t.from ? 'nothing sent' : `${t.cursor.o - t.from} bytes sent`;
      this.ch.log(
        `a send cancelled by the reader after ${Date.now() - t.at} ms (${waits}; ${this.ch.bufferedAmount()} bytes in the channel; ${this.queue.length} sends in turn)`,
      );
    }
    this.drop(x);
  }

  drop(x: number): void {
    const t = this.outgoing.get(x);
    if (!t) return;
    this.outgoing.delete(x);
    this.end(t);
    this.queue = this.queue.filter((q) => q !== t);
  }

  /** The link closed: every send ends (a closed channel holds no bytes of ours any more). */
  dropAll(): void {
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    this.starting.clear();
    for (const t of this.outgoing.values()) this.end(t);
    this.outgoing.clear();
    this.queue = [];
    this.letGoSent();
  }

  private end(t: Outgoing): void {
    t.cursor.close();
    this.ch.serving.release(t.hold);
    if (!t.lease) return;
    // A copying channel (a browser's) holds none of it: back at once. Waiting for its queue to empty polled
    // every 2 ms for as long as a busy link stayed busy (each swarm run's end started it: issue 17, session 13).
    if (this.ch.sendCopies()) returnView(t.lease);
    else this.letGoWhenSent(t.lease);
  }

  /**
   * A stream link's channel holds views of what it was given until written
   * (no copy): a buffer sent from goes back once the channel is empty or
   * closed. (A link kept busy by other sends keeps it longer.)
   */
  private letGoWhenSent(buf: SharedArrayBuffer): void {
    this.sentFrom.push(buf);
    this.letGoSent();
  }

  private letGoSent(): void {
    if (this.sentTimer !== null || this.sentFrom.length === 0) return;
    if (this.ch.open() && this.ch.bufferedAmount() > 0) {
      this.sentTimer = setTimeout(() => {
        this.sentTimer = null;
        this.letGoSent();
      }, DRAIN_POLL_MS);
      return;
    }
    for (const b of this.sentFrom.splice(0)) returnView(b);
  }

  /** The channel's queue fell below its low-water mark. */
  drained(): void {
    if (this.drainTimer !== null) this.ch.counters.sendWakes.drain++;
    this.pump();
  }

  /**
   * Puts `t` back in turn after one of its chunks: behind the transfers of
   * other objects, but ahead of its own object's later ones (a swarm reader's
   * runs): those go one after the other, so each run ends early and the
   * reader tells the others it holds it, and a run taken back was not begun.
   */
  private again(t: Outgoing): void {
    const q = this.queue;
    for (let i = 0; i < q.length; i++) {
      if (q[i].id !== t.id) continue;
      q.splice(i, 0, t);
      return;
    }
    q.push(t);
  }

  /** Sends chunks in turn while the channel has room. */
  pump(): void {
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    while (this.queue.length > 0 && this.ch.open()) {
      if (this.ch.bufferedAmount() >= this.ch.highWater()) {
        this.drainTimer = setTimeout(
          () => {
            this.drainTimer = null;
            this.ch.counters.sendWakes.timer++;
            this.pump();
          },
          this.ch.drainEvents() ? DRAIN_FALLBACK_MS : DRAIN_POLL_MS,
        );
        return;
      }
      const cap = this.ch.upload;
      const wait = cap ? cap.wait(Date.now()) : 0;
      if (wait > 0) {
        this.drainTimer = setTimeout(() => {
          this.drainTimer = null;
          this.pump();
        }, Math.ceil(wait));
        return;
      }
      const t = this.queue.shift()!;
      const c = t.cursor;
      const n = c.src.size;
      let d = c.chunk(Math.min(this.ch.faults.chunkBytes ?? t.per, t.end - c.o));
      if (d === null) continue; // its window is being read: back in turn once it is
      const end = c.o + d.byteLength;
      const f = this.ch.faults;
      if (f.corruptChunks && d.byteLength > 0) {
        f.corruptChunks--;
        d = d.slice();
        d[d.byteLength >> 1] ^= 0xff;
      }
      if (!this.ch.sendChunk(t.x, c.o, n, d)) return;
      this.ch.counters.bytesOut += d.byteLength;
      if (cap || t.fan) {
        const now = Date.now();
        cap?.spent(d.byteLength, now);
        if (t.fan) t.fan.lastAt = now;
      }
      c.o = end;
      if (f.cutAfterBytes !== undefined && c.o >= f.cutAfterBytes && c.o < t.end) {
        f.cutAfterBytes = undefined;
        return this.ch.close('cut by a test fault');
      }
      if (c.o < t.end) this.again(t);
      else {
        this.outgoing.delete(t.x);
        this.end(t);
      }
    }
  }
}
