// Frames between two coordinators survive a Redis reconnect (issue 14). Pub/sub is at most once: a message
// published while the receiver's subscription is down (its connection killed, Redis restarted) is gone. So every
// message to a peer carries a sequence number of this process's stream to that peer, and the highest number of the
// peer's stream to us received in order (a cumulative ack); the sender keeps what is not acked yet and sends it again
// when the peer says it misses some (a gap, or its subscription came back), when its own connection came back, and
// after a timeout (backing off). The receiver takes frames in order only (go-back-N: pub/sub on one connection
// keeps order, so a gap is a loss), drops duplicates, and acks by itself when nothing of ours goes back soon.
// What is kept is bounded: past it the stream starts afresh (a new epoch), and both sides end their links with each
// other as when a peer was taken for gone (its tasks run again: never a hang). A receiver drops a peer's stream once
// the peer has no record in the mesh but keeps its place (bounded), so a resumed stream goes on where it was. The
// same as at the bound when it forgot our stream past that: its records of a stream are numbered (`inc`, in its acks'
// unused epoch field; seq 1: made at a frame past the first), and a newer one asks for less than an old one acked.

import { FORGOTTEN_PEERS, limitsFromEnv, type DeliveryCounters, type DeliveryIo, type DeliveryLimits, type SeqHead } from './delivery-head.js';
import { ReceiveSide } from './delivery-receive.js';
import { SendSide } from './delivery-send.js';

export { ACK_MS, SEQ_HEAD_BYTES, limitsFromEnv, readSeqHead, writeSeqHead, type DeliveryIo, type DeliveryLimits, type SeqHead } from './delivery-head.js';

/** Both sides of the streams with every peer: ours to it (delivery-send.ts) and its to us (delivery-receive.ts). */
export class Delivery {
  private readonly out: SendSide;
  private readonly in: ReceiveSide;
  private readonly timer: ReturnType<typeof setInterval>;
  readonly counters: DeliveryCounters = { meshResent: 0, meshAcksOut: 0, meshResets: 0, meshDuplicates: 0, meshGaps: 0, meshStreamsRestored: 0 };

  constructor(
    io: DeliveryIo,
    /** Where the sequence head sits in a message. */
    headAt: number,
    limits: DeliveryLimits = limitsFromEnv(),
    now: () => number = Date.now,
  ) {
    this.in = new ReceiveSide(io, now, this.counters, limits.forgotten ?? FORGOTTEN_PEERS);
    this.out = new SendSide(io, headAt, limits, now, this.counters, (peer) => this.in.ackOf(peer));
    this.timer = setInterval(() => this.out.tick(), 200);
    this.timer.unref();
  }

  /** Numbers, keeps and publishes message `m` (its head at headAt is written here). */
  send(to: string, m: Buffer): void {
    this.out.send(to, m);
  }

  /** A data message's head from `from`: true when it is the next of its stream (deliver it), false to drop it. */
  accept(from: string, h: SeqHead): boolean {
    if (h.epoch === 0 || h.seq === 0) return false;
    this.out.ackUpTo(from, h.ackEpoch, h.ack, false, 0, false);
    return this.in.accept(from, h);
  }

  /** An ack from `from` (its head's epoch and seq: its record of our stream, `inc` and `late`): what it has is dropped; a nack sends the rest again. */
  acked(from: string, h: SeqHead, nack: boolean): void {
    this.out.ackUpTo(from, h.ackEpoch, h.ack, nack, h.epoch, h.seq === 1);
  }

  /** Our connection to Redis came back: what was in flight may be lost; send it all again. */
  reconnected(): void {
    this.out.reconnected();
  }

  /** Our subscription came back: ask every peer for what followed the last we took. */
  resubscribed(): void {
    this.in.resubscribed();
  }

  /**
   * The peers alive by the mesh's records (`live`) and those with a record at all (`known`: live, or gone less than the
   * registry's 60 s): what we keep for a peer out of them long enough is dropped, each side by its own rule.
   */
  keep(live: ReadonlySet<string>, known: (peer: string) => boolean = () => true): void {
    this.out.keep(live);
    this.in.keep(live, known);
  }

  /** Whether we hold `from`'s stream to us (tests). */
  hears(from: string): boolean {
    return this.in.hears(from);
  }

  /** Unacked messages kept for `to` (tests, stats). */
  kept(to: string): number {
    return this.out.kept(to);
  }

  close(): void {
    clearInterval(this.timer);
    this.in.close();
  }
}
