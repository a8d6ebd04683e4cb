// The receive side of the mesh bus's delivery (delivery.ts, issue 14): each peer's stream to us, taken in order only
// (go-back-N), duplicates dropped, acked by itself when nothing of ours carries the ack back soon, a gap asked for.
import { ACK_MS, AGAIN_MS, type DeliveryCounters, type DeliveryIo, type SeqHead } from './delivery-head.js';

/** The peer's stream to us. */
interface In {
  /** This record's number (grows within a process): a sender tells a record made afresh, after we forgot it, from a late ack of this one. */
  inc: number;
  /** Made at a frame past the first (the first lost, or a stream we forgot). */
  late: boolean;
  epoch: number;
  /** The next seq we take. */
  next: number;
  /** The highest seq we told the peer we have. */
  told: number;
  ackTimer: ReturnType<typeof setTimeout> | null;
  nackAt: number;
  nackFor: number;
}

/** Where a forgotten peer's stream was: its record without what waits (no ack is owed when it is forgotten). */
type Place = Pick<In, 'inc' | 'late' | 'epoch' | 'next'>;

export class ReceiveSide {
  private readonly ins = new Map<string, In>();
  /** Forgotten streams' places, oldest forgotten first (a Map keeps insertion order), at most `bound`. */
  private readonly places = new Map<string, Place>();
  /** Numbers of our records of the peers' streams (In.inc). */
  private incs = 0;

  constructor(
    private readonly io: DeliveryIo,
    private readonly now: () => number,
    private readonly counters: DeliveryCounters,
    /** Forgotten streams whose place is kept (DeliveryLimits.forgotten). */
    private readonly bound: number,
  ) {}

  /** What we have of `peer`'s stream, for a message to it (and it counts as told). */
  ackOf(peer: string): { ackEpoch: number; ack: number } {
    const r = this.ins.get(peer);
    if (!r) return { ackEpoch: 0, ack: 0 };
    r.told = r.next - 1;
    return { ackEpoch: r.epoch, ack: r.next - 1 };
  }

  /** A data message's head from `from` (its ack already taken): true when it is the next of its stream (deliver it), false to drop it. */
  accept(from: string, h: SeqHead): boolean {
    let r = this.ins.get(from) ?? this.restore(from);
    if (r && h.epoch < r.epoch) return false; // a stream the peer has left
    if (!r || h.epoch > r.epoch) {
      if (r) {
        this.counters.meshResets++;
        this.io.reset(from, `its frames from ${r.next} of its last stream were lost for good (it started a new one)`);
      }
      r = { inc: ++this.incs, late: h.seq > 1, epoch: h.epoch, next: 1, told: 0, ackTimer: null, nackAt: 0, nackFor: 0 };
      this.ins.set(from, r);
    }
    if (h.seq < r.next) {
      // Sent again: the peer has not heard that we have it (our ack was lost), so tell it again even if we told it once.
      this.counters.meshDuplicates++;
      if (r.told >= h.seq) r.told = h.seq - 1;
      this.ackSoon(from, r);
      return false;
    }
    if (h.seq > r.next) {
      this.counters.meshGaps++;
      this.nack(from, r);
      return false;
    }
    r.next++;
    this.ackSoon(from, r);
    return true;
  }

  private ackSoon(peer: string, r: In): void {
    if (r.ackTimer) return;
    r.ackTimer = setTimeout(() => {
      r.ackTimer = null;
      if (r.told >= r.next - 1) return; // a message of ours carried it
      r.told = r.next - 1;
      this.counters.meshAcksOut++;
      this.io.control(peer, false, r.epoch, r.next - 1, r.inc, r.late);
    }, ACK_MS);
    r.ackTimer.unref?.();
  }

  private nack(peer: string, r: In): void {
    const t = this.now();
    if (r.nackFor === r.next && t - r.nackAt < AGAIN_MS) return;
    r.nackFor = r.next;
    r.nackAt = t;
    r.told = r.next - 1;
    this.counters.meshAcksOut++;
    this.io.control(peer, true, r.epoch, r.next - 1, r.inc, r.late);
  }

  /** Our subscription came back: ask every peer for what followed the last we took. */
  resubscribed(): void {
    for (const [peer, r] of this.ins) {
      r.nackAt = 0;
      this.nack(peer, r);
    }
  }

  /**
   * A peer's stream to us is forgotten once it has no record (`known`: gone for good, or stalled past the registry's
   * 60 s) and owes no ack: one entry a peer ever heard from stayed here. Its place (epoch, next seq, the record's `inc`)
   * is kept, the `bound` last forgotten: should the peer resume (a stall), its frames are taken from there (what we took
   * is a duplicate, acked by the same record) and a new epoch of it ends the old one's links, as if we never forgot. A
   * place dropped past the bound: its sender sees a newer record of ours ask for less than the old one had acked and
   * starts afresh (delivery-send.ts forgotten()).
   */
  keep(live: ReadonlySet<string>, known: (peer: string) => boolean): void {
    for (const [from, r] of this.ins) {
      if (r.ackTimer || live.has(from) || known(from)) continue;
      this.ins.delete(from);
      if (this.bound === 0) continue;
      this.places.set(from, { inc: r.inc, late: r.late, epoch: r.epoch, next: r.next });
      if (this.places.size > this.bound) this.places.delete(this.places.keys().next().value as string);
    }
  }

  /** A forgotten stream's record made again from its place (undefined: none kept). */
  private restore(from: string): In | undefined {
    const p = this.places.get(from);
    if (!p) return undefined;
    this.places.delete(from);
    this.counters.meshStreamsRestored++;
    const r: In = { ...p, told: p.next - 1, ackTimer: null, nackAt: 0, nackFor: 0 };
    this.ins.set(from, r);
    return r;
  }

  /** Whether we hold `from`'s stream to us. */
  hears(from: string): boolean {
    return this.ins.has(from);
  }

  close(): void {
    for (const r of this.ins.values()) if (r.ackTimer) clearTimeout(r.ackTimer);
  }
}
