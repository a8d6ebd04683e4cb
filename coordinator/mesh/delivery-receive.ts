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

export class ReceiveSide {
  private readonly ins = new Map<string, In>();
  /** Numbers of our records of the peers' streams (In.inc). */
  private incs = 0;

  constructor(
    private readonly io: DeliveryIo,
    private readonly now: () => number,
    private readonly counters: DeliveryCounters,
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
    let r = this.ins.get(from);
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
   * 60 s) and owes no ack: one entry a peer ever heard from stayed here. Should it resume that stream, its sender sees a
   * newer record of ours ask for less than the old one had acked and starts afresh (delivery-send.ts forgotten()).
   */
  keep(live: ReadonlySet<string>, known: (peer: string) => boolean): void {
    for (const [from, r] of this.ins) if (!r.ackTimer && !live.has(from) && !known(from)) this.ins.delete(from);
  }

  /** Whether we hold `from`'s stream to us. */
  hears(from: string): boolean {
    return this.ins.has(from);
  }

  close(): void {
    for (const r of this.ins.values()) if (r.ackTimer) clearTimeout(r.ackTimer);
  }
}
