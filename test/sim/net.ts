// A simulated network for the transfer layer (in the spirit of Yjs's tests):
// fake data channels (RawPeer) and a fake signalling relay whose delays,
// bandwidth, lost signals, cut links and lying holders all come from one
// seeded generator. Time is vitest's fake clock, so a run is a pure function
// of its seed: a failing seed replays exactly.
import type { PeerFactory, RawPeer } from '../../shared/transfer/raw-peer.js';
import { DRAIN_LOW_WATER } from '../../shared/transfer/raw-peer.js';
import { EventQueue } from './event-queue.js';

/** mulberry32: a small, fast, seedable generator (uniform in [0, 1)). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface NetFaults {
  /** Chance that a signal (offer, answer) is lost on the relay. */
  signalLoss: number;
  /** Chance, per message sent on a channel, that the link is cut there. */
  cutPerMessage: number;
  /** Latency range of one hop, ms. */
  latencyMs: [number, number];
  /** Channel bandwidth, bytes per ms. */
  bytesPerMs: number;
  /** Each peer's upload, shared by all its channels, bytes per ms (default: no limit but the channels'). */
  uplinkBytesPerMs?: number;
  /** Object bytes per chunk, as a stream link (TCP between Node peers) takes them; one leaf when undefined. */
  chunkBytes?: number;
  /**
   * Links have a lane for small messages (raw-peer.ts): they go ahead of the
   * chunks queued on the channel and in the peer's upload (SCTP takes its
   * streams' messages in turn; a have map is small beside a chunk).
   */
  lane?: boolean;
  /**
   * Peers that are Node processes (issue 17, session 13): their links are
   * stream links (RawPeer.remoteNode, as TCP or a tab's WebSocket) at
   * `bytesPerMs`, and their upload is `uplinkBytesPerMs` (default: as others').
   */
  nodes?: { ids: string[]; bytesPerMs: number; uplinkBytesPerMs?: number };
}

export const CALM: NetFaults = { signalLoss: 0, cutPerMessage: 0, latencyMs: [1, 5], bytesPerMs: 50_000 };

interface Pending {
  pid: number;
  peer: FakePeer;
}

/** One end of a fake data channel. Ordered and reliable, as the real one is, until cut. */
class FakePeer implements RawPeer {
  other: FakePeer | null = null;
  closed = false;
  bufferedAmount = 0;
  /** Until when this channel is frozen both ways (SimNet.freeze). */
  frozenUntil = 0;
  /** When this direction's last message arrives: deliveries keep their order (the lane's apart). */
  private lastArrival = 0;
  private laneArrival = 0;
  onSignal: (data: unknown) => void = () => {};
  onConnect: () => void = () => {};
  onData: (bytes: Uint8Array) => void = () => {};
  onClose: (why: string) => void = () => {};
  onDrain: () => void = () => {};

  get chunkBytes(): number | undefined {
    return this.net.faults.chunkBytes;
  }

  get remoteNode(): boolean {
    return this.other !== null && this.net.isNode(this.other.owner);
  }

  constructor(
    private readonly net: SimNet,
    readonly owner: string,
    readonly initiator: boolean,
  ) {
    if (initiator) {
      const pid = net.nextPid++;
      net.offers.set(pid, { pid, peer: this });
      net.later(() => this.onSignal({ type: 'offer', pid }));
    }
  }

  signal(data: unknown): void {
    if (this.closed) return;
    const d = data as { type?: string; pid?: number };
    if (d.type === 'offer' && !this.initiator && typeof d.pid === 'number') {
      const offer = this.net.offers.get(d.pid);
      if (!offer || offer.peer.closed) return;
      this.net.offers.delete(d.pid);
      this.other = offer.peer;
      offer.peer.other = this;
      this.net.later(() => this.onSignal({ type: 'answer', pid: d.pid }));
    } else if (d.type === 'answer' && this.initiator && this.other && !this.other.closed) {
      const a = this as FakePeer;
      const b = this.other;
      this.net.after(this.net.hop(), () => {
        if (a.closed || b.closed) return;
        this.net.channels.push(a);
        b.onConnect();
        a.onConnect();
      });
    }
  }

  sendSmall(bytes: Uint8Array): boolean {
    if (!this.net.faults.lane) return false;
    const to = this.open();
    const copy = bytes.slice();
    const now = Date.now();
    const arrival = Math.max(this.laneArrival, now + this.net.hop()) + copy.byteLength / this.net.faults.bytesPerMs;
    this.laneArrival = arrival;
    const deliver = () => {
      const thaw = Math.max(this.frozenUntil, to.frozenUntil);
      if (Date.now() < thaw) return this.net.after(thaw - Date.now(), deliver);
      if (!to.closed && to.other === this) to.onData(copy);
    };
    this.net.after(arrival - now, deliver);
    return true;
  }

  /** The other end, for a message about to be sent (it may cut the link, as the seed says). */
  private open(): FakePeer {
    if (this.closed) throw new Error('channel closed');
    const to = this.other;
    if (!to || to.closed) throw new Error('channel not open');
    if (this.net.rand() < this.net.faults.cutPerMessage) {
      this.net.cuts++;
      this.net.later(() => this.cut('cut by the simulated network'));
    }
    return to;
  }

  send(bytes: Uint8Array): void {
    const to = this.open();
    const copy = bytes.slice();
    this.bufferedAmount += copy.byteLength;
    const now = Date.now();
    const f = this.net.faults;
    // The peer's upload takes its messages one after another, whichever channel they leave on.
    const uplink = this.net.uplinkOf(this.owner);
    const departs = uplink ? this.net.upload(this.owner, now, copy.byteLength / uplink) : now;
    const rate = this.net.isNode(this.owner) || this.net.isNode(to.owner) ? f.nodes!.bytesPerMs : f.bytesPerMs;
    const arrival = Math.max(this.lastArrival, departs + this.net.hop()) + copy.byteLength / rate;
    this.lastArrival = arrival;
    const deliver = () => {
      // A frozen channel: nothing moves either way until it thaws (then in order).
      const thaw = Math.max(this.frozenUntil, to.frozenUntil);
      if (Date.now() < thaw) return this.net.after(thaw - Date.now(), deliver);
      this.bufferedAmount -= copy.byteLength;
      if (!this.closed && this.bufferedAmount < DRAIN_LOW_WATER) this.onDrain();
      if (!to.closed && to.other === this) to.onData(copy);
    };
    this.net.after(arrival - now, deliver);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    const o = this.other;
    if (o && !o.closed) this.net.after(this.net.hop(), () => o.gone('closed by the other side'));
  }

  /** The network tears the channel down: both ends hear of it. */
  cut(why: string): void {
    this.gone(why);
    const o = this.other;
    if (o) o.gone(why);
  }

  private gone(why: string): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose(why);
  }
}

/** The simulated network: fake channels, a signalling relay, a seeded clock of events. */
export class SimNet {
  readonly rand: () => number;
  nextPid = 1;
  readonly offers = new Map<number, Pending>();
  /** Peer id → where its relayed signals go. */
  private readonly inboxes = new Map<string, (from: string, text: string) => void>();
  signalsLost = 0;
  cuts = 0;
  /** When each peer's upload is next free (faults.uplinkBytesPerMs). */
  private readonly uplinkFree = new Map<string, number>();
  /** Channels that came up (their initiator's end). */
  readonly channels: FakePeer[] = [];
  /** Deliveries in flight, behind one timer of the fake clock (event-queue.ts). */
  private readonly events = new EventQueue();

  constructor(
    seed: number,
    public faults: NetFaults = CALM,
  ) {
    this.rand = seeded(seed);
  }

  /** Whether `peer` is a Node process (faults.nodes). */
  isNode(peer: string): boolean {
    return this.faults.nodes?.ids.includes(peer) ?? false;
  }

  /** `owner`'s upload, bytes per ms (undefined: no limit but its channels'). */
  uplinkOf(owner: string): number | undefined {
    const n = this.faults.nodes;
    return n?.uplinkBytesPerMs !== undefined && n.ids.includes(owner) ? n.uplinkBytesPerMs : this.faults.uplinkBytesPerMs;
  }

  /** Takes `ms` of `owner`'s upload from `now` on (after what it already sends): when the message has left. */
  upload(owner: string, now: number, ms: number): number {
    const done = Math.max(now, this.uplinkFree.get(owner) ?? 0) + ms;
    this.uplinkFree.set(owner, done);
    return done;
  }

  /**
   * Freezes the open channels between `a` and `b` both ways for `ms`, as a
   * stuck WebRTC association: messages are late, not lost. A channel opened
   * after this is not frozen.
   */
  freeze(a: string, b: string, ms: number): void {
    for (const c of this.channels) {
      const o = c.other;
      if (c.closed || !o || o.closed || !((c.owner === a && o.owner === b) || (c.owner === b && o.owner === a))) continue;
      c.frozenUntil = o.frozenUntil = Date.now() + ms;
    }
  }

  /** A seeded latency of one hop. */
  hop(): number {
    const [lo, hi] = this.faults.latencyMs;
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  after(ms: number, f: () => void): void {
    this.events.after(ms, f);
  }

  later(f: () => void): void {
    this.after(this.hop(), f);
  }

  /** The channel factory of peer `owner`. */
  factory(owner: string): PeerFactory {
    return (initiator) => new FakePeer(this, owner, initiator);
  }

  /** Registers where signals to `peer` go (its PeerLinks.onSignal). */
  inbox(peer: string, deliver: (from: string, text: string) => void): void {
    this.inboxes.set(peer, deliver);
  }

  /** The relay: forwards a signal after a hop, or loses it; false when `to` is no peer it knows (it left). */
  relay(from: string, to: string, text: string): boolean {
    const deliver = this.inboxes.get(to);
    if (!deliver) return false;
    if (this.rand() < this.faults.signalLoss) {
      this.signalsLost++;
      return true;
    }
    this.later(() => deliver(from, text));
    return true;
  }
}
