// The send side of the mesh bus's delivery (delivery.ts, issue 14): our stream to each peer, numbered; what the peer
// has not acked is kept (bounded) and sent again on its nack, on our reconnect and after a timeout.
import { Fifo } from '../../shared/fifo.js';
import { AGAIN_MS, writeSeqHead, type DeliveryCounters, type DeliveryIo, type DeliveryLimits } from './delivery-head.js';

/** Unacked frames are sent again after this (doubling while nothing is acked, up to RTO_MAX_MS): a backstop for a lost tail (a nack covers a gap and a subscription back; our own connection back resends at once). */
const RTO_MS = 2000;
const RTO_MAX_MS = 16_000;
/** A peer out of the mesh's records this long: what we kept for it is dropped (its next frame starts an epoch). */
const FORGET_MS = 60_000;

interface Kept {
  seq: number;
  m: Buffer;
}

/** Our stream to one peer. */
interface Out {
  epoch: number;
  next: number;
  /** What the peer has not acked, oldest first. */
  kept: Fifo<Kept>;
  bytes: number;
  /** Last time something was acked or sent again: the timeout counts from it. */
  since: number;
  rto: number;
  againAt: number;
  againFrom: number;
  goneAt: number;
  /** The highest seq the peer acked, and the number of its record of this stream (`In.inc`) its acks named. */
  acked: number;
  inc: number;
}

/** What a message to a peer acks of its stream to us (the receive side's; it counts as told). */
export type AckOf = (peer: string) => { ackEpoch: number; ack: number };

export class SendSide {
  private readonly outs = new Map<string, Out>();
  /** Epochs only grow within a process (a peer tells a stale stream from a new one); a restarted coordinator has a new id. */
  private epochs = 0;

  constructor(
    private readonly io: DeliveryIo,
    private readonly headAt: number,
    private readonly limits: DeliveryLimits,
    private readonly now: () => number,
    private readonly counters: DeliveryCounters,
    private readonly ackOf: AckOf,
  ) {}

  /** Numbers, keeps and publishes message `m` (its head at headAt is written here). */
  send(to: string, m: Buffer): void {
    let o = this.outs.get(to);
    if (o && (o.kept.length >= this.limits.frames || o.bytes + m.length > this.limits.bytes)) {
      // The peer has not acked this much: it is gone or cut off for long. This message and the kept ones are dropped;
      // both sides end their links (the peer on our next epoch's first frame), as when a coordinator is taken for gone.
      this.outs.delete(to);
      this.counters.meshResets++;
      const why = `${o.kept.length} frames (${o.bytes} bytes) not acknowledged: dropped, links start afresh`;
      queueMicrotask(() => this.io.reset(to, why));
      return;
    }
    if (!o) {
      o = {
        epoch: ++this.epochs,
        next: 1,
        kept: new Fifo<Kept>(),
        bytes: 0,
        since: this.now(),
        rto: RTO_MS,
        againAt: 0,
        againFrom: 0,
        goneAt: 0,
        acked: 0,
        inc: 0,
      };
      this.outs.set(to, o);
    }
    const seq = o.next++;
    if (o.kept.length === 0) o.since = this.now();
    o.kept.push({ seq, m });
    o.bytes += m.length;
    writeSeqHead(m, this.headAt, { epoch: o.epoch, seq, ...this.ackOf(to) });
    this.io.publish(to, m);
  }

  /** `inc`, `late`: the peer's record of our stream that acks (inc 0: a message's own ack, or a peer that does not say). */
  ackUpTo(from: string, ackEpoch: number, ack: number, nack: boolean, inc: number, late: boolean): void {
    const o = this.outs.get(from);
    if (!o || ackEpoch !== o.epoch || ack >= o.next) return; // another stream's, or more than we sent: a peer's word
    if (inc > o.inc) {
      // A record of our stream made after the one that acked us (or, when only our messages carried its acks so far, one
      // made late): with less, it forgot what it had. A late ack of the old record (a resent publish) has its number.
      if (ack < o.acked && (o.inc !== 0 || late)) return this.forgotten(from, o, ack);
      o.inc = inc;
    }
    if (ack > o.acked) o.acked = ack;
    let progress = false;
    for (let k = o.kept.peek(); k && k.seq <= ack; k = o.kept.peek()) {
      o.bytes -= k.m.length;
      o.kept.shift();
      progress = true;
    }
    if (progress) {
      o.since = this.now();
      o.rto = RTO_MS;
    }
    const oldest = o.kept.peek();
    if (nack && oldest) {
      const from1 = oldest.seq;
      if (from1 !== o.againFrom || this.now() - o.againAt >= AGAIN_MS) this.again(from, o);
    }
  }

  /**
   * A new record of the peer asks from `ack` + 1 when an older one had acked `o.acked`: it forgot our stream (while we
   * had no record in the mesh: a stall past 60 s). What it acked is not kept, what is kept may have reached it with its
   * ack lost: sending either again could lose or double a frame. So the stream ends as at the bound: what is kept is
   * dropped, both sides end their links (the peer on our next epoch's first frame), a new epoch.
   */
  private forgotten(from: string, o: Out, ack: number): void {
    this.outs.delete(from);
    this.counters.meshResets++;
    const why = `it forgot our stream (asked from ${ack + 1}, had acked ${o.acked}): ${o.kept.length} frames dropped, links start afresh`;
    queueMicrotask(() => this.io.reset(from, why));
  }

  /** Sends again everything kept for the peer, in order, each with a fresh ack. */
  private again(to: string, o: Out): void {
    const ack = this.ackOf(to);
    // A copy of the list: a publish that is answered at once (a bus in one process) may shift what it acks meanwhile.
    for (const k of [...o.kept]) {
      const copy = Buffer.from(k.m); // the first one may still sit in the client's queue
      writeSeqHead(copy, this.headAt, { epoch: o.epoch, seq: k.seq, ...ack });
      this.counters.meshResent++;
      this.io.publish(to, copy);
    }
    o.since = o.againAt = this.now();
    o.againFrom = o.kept.peek()?.seq ?? 0;
  }

  /** Our connection to Redis came back: what was in flight may be lost; send it all again. */
  reconnected(): void {
    for (const [to, o] of this.outs) if (o.kept.length > 0) this.again(to, o);
  }

  /** What we kept for a peer out of the mesh's live set for FORGET_MS is dropped (its next message starts an epoch). */
  keep(live: ReadonlySet<string>): void {
    const t = this.now();
    for (const [to, o] of this.outs) {
      if (live.has(to)) o.goneAt = 0;
      else if (!o.goneAt) o.goneAt = t;
      else if (t - o.goneAt >= FORGET_MS) this.outs.delete(to);
    }
  }

  /** Unacked messages kept for `to`. */
  kept(to: string): number {
    const o = this.outs.get(to);
    return o ? o.kept.length : 0;
  }

  /** The timeout: what waited unacked past its RTO is sent again, the RTO doubling. */
  tick(): void {
    const t = this.now();
    for (const [to, o] of this.outs) {
      if (o.kept.length === 0 || t - o.since < o.rto) continue;
      this.again(to, o);
      o.rto = Math.min(RTO_MAX_MS, o.rto * 2);
    }
  }
}
