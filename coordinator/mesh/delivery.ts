// Frames between two coordinators survive a Redis reconnect (issue 14). Pub/sub is at most once: a message
// published while the receiver's subscription is down (its connection killed, Redis restarted) is gone. So every
// message to a peer carries a sequence number of this process's stream to that peer, and the highest number of the
// peer's stream to us received in order (a cumulative ack); the sender keeps what is not acked yet and sends it again
// when the peer says it misses some (a gap, or its subscription came back), when its own connection came back, and
// after a timeout (backing off). The receiver takes frames in order only (go-back-N: pub/sub on one connection
// keeps order, so a gap is a loss), drops duplicates, and acks by itself when nothing of ours goes back soon.
// What is kept is bounded: past it the stream starts afresh (a new epoch), and both sides end their links with each
// other as when a peer was taken for gone (its tasks run again: never a hang). The same when the receiver forgot our
// stream (it drops a peer's with no record in the mesh): its records of a stream are numbered (`inc`, in its acks'
// unused epoch field; seq 1: made at a frame past the first), and a newer one asks for less than an old one acked.

/** epoch, seq, ackEpoch, ack: four big-endian u32 after the kind and the sender's id (an ack's: inc, late, ackEpoch, ack). */
export const SEQ_HEAD_BYTES = 16;

export interface SeqHead {
  epoch: number;
  seq: number;
  ackEpoch: number;
  ack: number;
}

export function readSeqHead(m: Uint8Array, at: number): SeqHead {
  const v = new DataView(m.buffer, m.byteOffset + at, SEQ_HEAD_BYTES);
  return { epoch: v.getUint32(0), seq: v.getUint32(4), ackEpoch: v.getUint32(8), ack: v.getUint32(12) };
}

export function writeSeqHead(m: Uint8Array, at: number, h: SeqHead): void {
  const v = new DataView(m.buffer, m.byteOffset + at, SEQ_HEAD_BYTES);
  v.setUint32(0, h.epoch);
  v.setUint32(4, h.seq);
  v.setUint32(8, h.ackEpoch);
  v.setUint32(12, h.ack);
}

export interface DeliveryLimits {
  /** Unacked messages kept per peer (TABMESH_MESH_RESEND_FRAMES). */
  frames: number;
  /** Unacked bytes kept per peer (TABMESH_MESH_RESEND_BYTES); Redis's own pub/sub output bound is 32 MiB. */
  bytes: number;
}

/** The bounds from the environment (read when a coordinator starts), else 20,000 frames and 32 MiB. */
export function limitsFromEnv(env: Record<string, string | undefined> = process.env): DeliveryLimits {
  return {
    frames: Math.max(1, Math.floor(Number(env.TABMESH_MESH_RESEND_FRAMES)) || 20_000),
    bytes: Math.max(1, Math.floor(Number(env.TABMESH_MESH_RESEND_BYTES)) || 32 * 1024 * 1024),
  };
}

/**
 * A standalone ack leaves this long after a frame when nothing of ours carried it back first (TABMESH_MESH_ACK_MS).
 * 200, not 40 (session 21, bench/mesh-acks): a job of 30 ms tasks over two coordinators sent 0.145 standalone acks a
 * task at 40 ms (1.13 PUBLISH a task) and 0.045 at 200 (1.02); well under RTO_MS, so no resend waits on it.
 */
export const ACK_MS = Math.max(1, Number(process.env.TABMESH_MESH_ACK_MS ?? 200) || 200);
/** Unacked frames are sent again after this (doubling while nothing is acked, up to RTO_MAX_MS): a backstop for a lost tail (a nack covers a gap and a subscription back; our own connection back resends at once). */
const RTO_MS = 2000;
const RTO_MAX_MS = 16_000;
/** A resend asked for (a gap) is not repeated for the same place within this. */
const AGAIN_MS = 200;
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
  kept: Kept[];
  /** Index of the oldest kept message in `kept` (dropped from the front lazily). */
  first: number;
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

export interface DeliveryIo {
  /** Publishes a message (its head at `headAt` already written) to the peer. */
  publish(to: string, m: Buffer): void;
  /** An ack (`nack`: and send again what follows it now) to the peer. */
  control(to: string, nack: boolean, ackEpoch: number, ack: number, inc: number, late: boolean): void;
  /** Frames to or from the peer were lost for good: end the links with it as when it was taken for gone. */
  reset(peer: string, why: string): void;
}

export class Delivery {
  private readonly outs = new Map<string, Out>();
  private readonly ins = new Map<string, In>();
  /** Epochs only grow within a process (a peer tells a stale stream from a new one); a restarted coordinator has a new id. */
  private epochs = 0;
  /** Numbers of our records of the peers' streams (In.inc). */
  private incs = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  readonly counters = { meshResent: 0, meshAcksOut: 0, meshResets: 0, meshDuplicates: 0, meshGaps: 0 };

  constructor(
    private readonly io: DeliveryIo,
    /** Where the sequence head sits in a message. */
    private readonly headAt: number,
    private readonly limits: DeliveryLimits = limitsFromEnv(),
    private readonly now: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.tick(), 200);
    this.timer.unref();
  }

  /** Numbers, keeps and publishes message `m` (its head at headAt is written here). */
  send(to: string, m: Buffer): void {
    let o = this.outs.get(to);
    if (o && (o.kept.length - o.first >= this.limits.frames || o.bytes + m.length > this.limits.bytes)) {
      // The peer has not acked this much: it is gone or cut off for long. This message and the kept ones are dropped;
      // both sides end their links (the peer on our next epoch's first frame), as when a coordinator is taken for gone.
      this.outs.delete(to);
      this.counters.meshResets++;
      const why = `${o.kept.length - o.first} frames (${o.bytes} bytes) not acknowledged: dropped, links start afresh`;
      queueMicrotask(() => this.io.reset(to, why));
      return;
    }
    if (!o) {
      o = {
        epoch: ++this.epochs,
        next: 1,
        kept: [],
        first: 0,
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
    if (o.first === o.kept.length) o.since = this.now();
    o.kept.push({ seq, m });
    o.bytes += m.length;
    writeSeqHead(m, this.headAt, { epoch: o.epoch, seq, ...this.ackOf(to) });
    this.io.publish(to, m);
  }

  /** What we have of `from`'s stream, for a message to it (and it counts as told). */
  private ackOf(peer: string): { ackEpoch: number; ack: number } {
    const r = this.ins.get(peer);
    if (!r) return { ackEpoch: 0, ack: 0 };
    r.told = r.next - 1;
    return { ackEpoch: r.epoch, ack: r.next - 1 };
  }

  /** A data message's head from `from`: true when it is the next of its stream (deliver it), false to drop it. */
  accept(from: string, h: SeqHead): boolean {
    if (h.epoch === 0 || h.seq === 0) return false;
    this.ackUpTo(from, h.ackEpoch, h.ack, false, 0, false);
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
      this.counters.meshDuplicates++;
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

  /** An ack from `from` (its head's epoch and seq: its record of our stream, `inc` and `late`): what it has is dropped; a nack sends the rest again. */
  acked(from: string, h: SeqHead, nack: boolean): void {
    this.ackUpTo(from, h.ackEpoch, h.ack, nack, h.epoch, h.seq === 1);
  }

  /** `inc`, `late`: the peer's record of our stream that acks (inc 0: a message's own ack, or a peer that does not say). */
  private ackUpTo(from: string, ackEpoch: number, ack: number, nack: boolean, inc: number, late: boolean): void {
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
    while (o.first < o.kept.length && o.kept[o.first].seq <= ack) {
      o.bytes -= o.kept[o.first].m.length;
      o.first++;
      progress = true;
    }
    if (o.first === o.kept.length) {
      o.kept = [];
      o.first = 0;
    } else if (o.first > 1024 && o.first * 2 > o.kept.length) {
      o.kept = o.kept.slice(o.first);
      o.first = 0;
    }
    if (progress) {
      o.since = this.now();
      o.rto = RTO_MS;
    }
    if (nack && o.first < o.kept.length) {
      const from1 = o.kept[o.first].seq;
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
    const why = `it forgot our stream (asked from ${ack + 1}, had acked ${o.acked}): ${o.kept.length - o.first} frames dropped, links start afresh`;
    queueMicrotask(() => this.io.reset(from, why));
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

  /** Sends again everything kept for the peer, in order, each with a fresh ack. */
  private again(to: string, o: Out): void {
    const ack = this.ackOf(to);
    for (let i = o.first; i < o.kept.length; i++) {
      const k = o.kept[i];
      const copy = Buffer.from(k.m); // the first one may still sit in the client's queue
      writeSeqHead(copy, this.headAt, { epoch: o.epoch, seq: k.seq, ...ack });
      this.counters.meshResent++;
      this.io.publish(to, copy);
    }
    o.since = o.againAt = this.now();
    o.againFrom = o.first < o.kept.length ? o.kept[o.first].seq : 0;
  }

  /** Our connection to Redis came back: what was in flight may be lost; send it all again. */
  reconnected(): void {
    for (const [to, o] of this.outs) if (o.first < o.kept.length) this.again(to, o);
  }

  /** Our subscription came back: ask every peer for what followed the last we took. */
  resubscribed(): void {
    for (const [peer, r] of this.ins) {
      r.nackAt = 0;
      this.nack(peer, r);
    }
  }

  /**
   * The peers alive by the mesh's records: what we keep for one out of them long enough is dropped. A peer's stream to
   * us is forgotten once it has no record (`known`: gone for good, or stalled past the registry's 60 s) and owes no ack:
   * one entry a peer ever heard from stayed here. Should it resume that stream, its sender sees a newer record of ours
   * ask for less than the old one had acked and starts afresh (forgotten()).
   */
  keep(live: ReadonlySet<string>, known: (peer: string) => boolean = () => true): void {
    const t = this.now();
    for (const [to, o] of this.outs) {
      if (live.has(to)) o.goneAt = 0;
      else if (!o.goneAt) o.goneAt = t;
      else if (t - o.goneAt >= FORGET_MS) this.outs.delete(to);
    }
    for (const [from, r] of this.ins) if (!r.ackTimer && !live.has(from) && !known(from)) this.ins.delete(from);
  }

  /** Whether we hold `from`'s stream to us (tests). */
  hears(from: string): boolean {
    return this.ins.has(from);
  }

  /** Unacked messages kept for `to` (tests, stats). */
  kept(to: string): number {
    const o = this.outs.get(to);
    return o ? o.kept.length - o.first : 0;
  }

  private tick(): void {
    const t = this.now();
    for (const [to, o] of this.outs) {
      if (o.first === o.kept.length || t - o.since < o.rto) continue;
      this.again(to, o);
      o.rto = Math.min(RTO_MAX_MS, o.rto * 2);
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const r of this.ins.values()) if (r.ackTimer) clearTimeout(r.ackTimer);
  }
}
