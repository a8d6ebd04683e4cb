// The sending side of one peer link: objects this side serves. Outgoing
// transfers share the channel fairly (one chunk each in turn) and stop while
// the channel's queue is above a high-water mark, so nothing queues without
// bound.
import type { ObjectId } from '../ids.js';
import { expose } from '../bytes.js';
import type { ServingBudget } from './serving.js';
import { CHUNK_DATA_BYTES, LEAVES_PER_MESSAGE, writeLeaves, type Control } from './wire.js';
import { LEAF_BYTES, leavesOf } from '../hash.js';

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

/** What the sending side needs of its link. */
export interface SendChannel {
  open(): boolean;
  bufferedAmount(): number;
  sendRaw(b: Uint8Array): void;
  sendControl(c: Control): void;
  /** Sends one chunk message; false when the link broke doing so. */
  sendChunk(x: number, o: number, n: number, d: Uint8Array): boolean;
  close(why: string): void;
  lookup(id: ObjectId): Promise<Uint8Array | undefined>;
  /** A reader still fetching `id` (swarm.ts): its buffer when chunks [from, end) are all in and checked. */
  partial(id: ObjectId, from: number, end: number): Uint8Array | undefined;
  readonly serving: ServingBudget;
  readonly faults: LinkFaults;
  readonly counters: { bytesOut: number };
}

interface Outgoing {
  x: number;
  bytes: Uint8Array;
  o: number;
  /** Where the requested range ends. */
  end: number;
}

export class Sending {
  private readonly outgoing = new Map<number, Outgoing>();
  /** Outgoing transfers in turn order. */
  private queue: Outgoing[] = [];
  private drainTimer: unknown = null;

  constructor(private readonly ch: SendChannel) {}

  get size(): number {
    return this.outgoing.size;
  }

  async serve(x: number, id: ObjectId, from: number, to: number | undefined, withLeaves: boolean): Promise<void> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.ch.lookup(id);
    } catch {
      bytes = undefined;
    }
    bytes ??= to !== undefined ? this.ch.partial(id, from, to) : undefined;
    if (!this.ch.open()) return;
    if (!bytes) return this.ch.sendControl({ k: 'fail', x, reason: 'object not held here' });
    if (from > bytes.byteLength) return this.ch.sendControl({ k: 'fail', x, reason: 'offset past the end' });
    const end = Math.min(bytes.byteLength, to ?? bytes.byteLength);
    if (end < bytes.byteLength && end % CHUNK_DATA_BYTES !== 0) return this.ch.sendControl({ k: 'fail', x, reason: 'range end not at a chunk boundary' });
    expose(bytes); // sent from in place, over time
    await this.ch.serving.acquire(bytes);
    if (!this.ch.open()) return this.ch.serving.release(bytes);
    if (withLeaves) {
      const leaves = await leavesOf(bytes);
      if (!this.ch.open()) return this.ch.serving.release(bytes);
      const per = LEAVES_PER_MESSAGE * LEAF_BYTES;
      for (let o = 0; o < leaves.byteLength; o += per) this.ch.sendRaw(writeLeaves(x, o / LEAF_BYTES, leaves.subarray(o, o + per)));
    }
    const t: Outgoing = { x, bytes, o: from, end };
    this.outgoing.set(x, t);
    this.queue.push(t);
    this.pump();
  }

  drop(x: number): void {
    const t = this.outgoing.get(x);
    if (!t) return;
    this.outgoing.delete(x);
    this.ch.serving.release(t.bytes);
    this.queue = this.queue.filter((q) => q !== t);
  }

  /** The link closed: every send ends. */
  dropAll(): void {
    if (this.drainTimer !== null) clearTimeout(this.drainTimer);
    for (const t of this.outgoing.values()) this.ch.serving.release(t.bytes);
    this.outgoing.clear();
    this.queue = [];
  }

  /** Sends chunks in turn while the channel has room. */
  pump(): void {
    if (this.drainTimer !== null) {
      clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    while (this.queue.length > 0 && this.ch.open()) {
      if (this.ch.bufferedAmount() >= SEND_HIGH_WATER) {
        this.drainTimer = setTimeout(() => {
          this.drainTimer = null;
          this.pump();
        }, DRAIN_POLL_MS);
        return;
      }
      const t = this.queue.shift()!;
      const n = t.bytes.byteLength;
      const end = Math.min(t.end, t.o + CHUNK_DATA_BYTES);
      let d = t.bytes.subarray(t.o, end);
      const f = this.ch.faults;
      if (f.corruptChunks && d.byteLength > 0) {
        f.corruptChunks--;
        d = d.slice();
        d[d.byteLength >> 1] ^= 0xff;
      }
      if (!this.ch.sendChunk(t.x, t.o, n, d)) return;
      this.ch.counters.bytesOut += d.byteLength;
      t.o = end;
      if (f.cutAfterBytes !== undefined && t.o >= f.cutAfterBytes && t.o < t.end) {
        f.cutAfterBytes = undefined;
        return this.ch.close('cut by a test fault');
      }
      if (t.o < t.end) this.queue.push(t);
      else {
        this.outgoing.delete(t.x);
        this.ch.serving.release(t.bytes);
      }
    }
  }
}
