// One peer link: a data channel to one other peer and the transfers on it in
// both directions (link-receive.ts: what this side asked for; link-send.ts:
// what it serves). This file is the channel: opening, closing, and routing
// each message to its side.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { CLOSED_BY_PEER, type RawPeer } from './raw-peer.js';
import { LinkWatch } from './link-watch.js';
import type { ServingBudget } from './serving.js';
import type { FanOut } from './fan-out.js';
import type { UploadCap } from './upload-cap.js';
import type { ObjectSource } from './source.js';
import {
  CHUNK_HEADER_BYTES,
  WIRE_VERSION,
  WireVersionError,
  chunkHeader,
  readMessage,
  writeChunk,
  writeChunkReused,
  writeControl,
  writeHave,
  type Control,
  type Have,
  type Shortcut,
  type Direct,
} from './wire.js';
import { Receiving } from './link-receive.js';
import { StalledError, type FetchOptions } from './fetch-errors.js';
import { SEND_HIGH_WATER, Sending, type LinkFaults, type SendWakes } from './link-send.js';

export interface LinkEnv {
  /** An object held here, to serve: its bytes, or a source that streams it from a lower tier. */
  lookup(id: ObjectId): Promise<Uint8Array | ObjectSource | undefined>;
  /** Chunks [from, end) of an object this side is still fetching, when all are in (swarm.ts). */
  partial(id: ObjectId, from: number, end: number): Uint8Array | undefined;
  /** The peer's chunk availability for an object (swarm.ts). */
  have(link: PeerLink, h: Have): void;
  /** A task's result the peer sent (shared/protocol/shortcut.ts): a driver's; nodes ignore it. */
  result?(link: PeerLink, r: Shortcut): void;
  /** A direct submission's task or refusal (shared/protocol/direct.ts): a node takes tasks, a driver refusals. */
  direct?(link: PeerLink, d: Direct): void;
  /** The node's cap on bytes being served at once (shared by its links). */
  serving: ServingBudget;
  /** Which readers of an object this node streams whole copies to (shared by its links). */
  fan: FanOut;
  /** The node's cap on its upload (shared by its links); null: none. */
  upload: UploadCap | null;
  /** How long a link may hold bytes queued with no packet sent (link-watch.ts; FROZEN_MS unless set). */
  frozenMs?: number;
  faults: LinkFaults;
  /** `laneMessages`: small messages sent on a link's lane (raw-peer.ts). */
  counters: { bytesIn: number; bytesOut: number; laneMessages: number; sendWakes: SendWakes };
  /** The link closed: the pool forgets it. */
  closed(link: PeerLink, why: string): void;
  log(text: string): void;
}

export type LinkState = 'connecting' | 'open' | 'closed';

export class PeerLink {
  state: LinkState = 'connecting';
  lastUsed = Date.now();
  readonly opened: Promise<void>;
  private openedResolve!: () => void;
  private openedReject!: (e: Error) => void;
  private readonly rx: Receiving;
  private readonly tx: Sending;
  /** Bytes handed to the channel so far; minus its buffered amount, bytes that left. */
  private queuedBytes = 0;
  /** When a message from the peer last arrived. */
  private lastHeard = Date.now();
  /** The stats watchdog (link-watch.ts); null where the link gives no stats (stream links). */
  private readonly watch: LinkWatch | null;

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
    this.rx = new Receiving({
      peer,
      sendControl: (c) => this.sendControl(c),
      queuedBytes: () => this.queuedBytes,
      drained: () => this.drained,
      chunkBytes: () => raw.chunkBytes,
      expectChunks: () => raw.expectChunks?.(),
      counters: env.counters,
    });
    this.tx = new Sending({
      open: () => this.state === 'open',
      bufferedAmount: () => raw.bufferedAmount,
      highWater: () => raw.sendHighWater ?? SEND_HIGH_WATER,
      drainEvents: () => raw.drainEvents === true,
      sendCopies: () => raw.sendCopies === true && !raw.sendv,
      sendRaw: (b) => this.sendRaw(b),
      sendControl: (c) => this.sendControl(c),
      sendChunk: (x, o, n, d) => this.sendChunk(x, o, n, d),
      close: (why) => this.close(why),
      lookup: (id) => env.lookup(id),
      partial: (id, from, end) => env.partial(id, from, end),
      serving: env.serving,
      get upload() {
        return env.upload;
      },
      fanReader: (id, size) => env.fan.reader(id, peer, raw.remoteNode === true, Date.now(), size),
      faults: env.faults,
      counters: env.counters,
      log: (text) => env.log(`peer link to ${peer}: ${text}`),
    });
    raw.onConnect = () => this.markOpen();
    raw.onData = (b) => this.onData(b);
    // The other side closed the link while this side's transfers were under way: as after a stall, a swarm asks
    // that holder again, over a new link (it may have closed a frozen one: link-watch.ts).
    raw.onClose = (why, peerFault) => this.close(why, peerFault, !peerFault && why.startsWith(CLOSED_BY_PEER));
    this.watch = raw.stats ? new LinkWatch(env.frozenMs) : null;
    raw.onDrain = () => this.tx.drained();
    raw.placeChunk = (x, o, n, len) => (this.state === 'closed' ? undefined : this.rx.place(x, o, n, len));
    raw.awaitingChunks = () => this.rx.size > 0;
    raw.onChunkPlaced = (x, o, n, d) => {
      if (this.state === 'closed') return;
      this.lastUsed = Date.now();
      this.rx.onChunk({ x, o, n, d });
    };
  }

  private markOpen(): void {
    if (this.state !== 'connecting') return;
    this.state = 'open';
    this.lastUsed = Date.now();
    this.openedResolve();
  }

  /** Whether transfers are under way (an idle link may be closed). */
  get busy(): boolean {
    return this.rx.size > 0 || this.tx.size > 0;
  }

  /** Asks the other side for object `id` of `size` bytes. Rejects if the link breaks or the holder cannot serve it. */
  fetch(id: ObjectId, size: number, opts: FetchOptions = {}): Promise<Uint8Array> {
    if (this.state !== 'open') return Promise.reject(new TabmeshError('CLOSED', `link to ${this.peer} is ${this.state}`));
    this.lastUsed = Date.now();
    return this.rx.fetch(id, size, opts);
  }

  /** Tells the peer which chunks of an object this side holds and has claimed (swarm.ts). */
  sendHave(h: Have): void {
    if (this.state === 'open') this.sendSmall(writeHave(h));
  }

  /** Sends a small message (`writeShortcut`, a task's result; a direct task or its refusal) ahead of any chunks. */
  sendShortcut(b: Uint8Array): void {
    if (this.state !== 'open') return;
    this.lastUsed = Date.now();
    this.sendSmall(b);
  }

  /** Bytes of this side's sends that left its queue. */
  get drained(): number {
    return this.queuedBytes - this.raw.bufferedAmount;
  }

  /** See Receiving.checkStalls. */
  checkStalls(now: number, stallMs: number): void {
    this.rx.checkStalls(now, stallMs);
  }

  /**
   * Whether the channel is stuck both ways for `ms` while this side waits
   * for transfers: bytes wait in its queue and none left it, and nothing came
   * from the peer (the reader closes it; the holder hears of that). Seen in
   * Chromium (test/p2p/memory.test.ts): all of one tab's links, or one pair's,
   * silent for 40 s and more while other links move data and ICE never gives
   * up on them. A new link is a new association.
   */
  frozen(now: number, ms: number): boolean {
    return this.rx.size > 0 && this.raw.bufferedAmount > 0 && now - this.rx.drainedSince >= ms && now - this.lastHeard >= ms;
  }

  /**
   * The stats watchdog's tick (link-watch.ts): resolves true once this link
   * held bytes queued and its connection sent no packet for `frozenMs`.
   */
  async watchdog(now: number): Promise<boolean> {
    if (this.state !== 'open' || !this.watch) return false;
    const frozen = await this.watch.tick(this.watched, now);
    return frozen && this.state === 'open';
  }

  /** Closes a link that is `frozen`: its transfers fail as stalled (a swarm asks their holder again, over a new link). */
  closeStuck(ms: number): void {
    this.close(`stuck both ways for ${ms} ms or more (nothing left this side's queue, nothing came)`, false, true);
  }

  /** What the watchdog reads, read afresh each time (it reads again after its stats came). */
  private readonly watched = ((link: PeerLink) => ({
    get buffered() {
      return link.raw.bufferedAmount;
    },
    get drained() {
      return link.drained;
    },
    stats: () => link.raw.stats!(),
  }))(this);

  /** Closes a link the watchdog found frozen (its transfers fail as stalled, as in closeStuck). */
  closeFrozen(ms: number): void {
    this.close(`frozen: bytes queued, none sent on, and no packet sent or none received for ${ms} ms or more`, false, true);
  }

  /** `peerFault`: the peer broke the protocol (a malformed message or frame): its transfers fail as a bad holder's. `stalled`: see closeStuck. */
  close(why: string, peerFault = false, stalled = false): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    const text = `link to ${this.peer} closed: ${why}`;
    const err = stalled ? new StalledError(text) : new TabmeshError('CLOSED', text);
    this.openedReject(err);
    this.rx.failAll(err, peerFault);
    this.tx.dropAll();
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

  /** A have map or control message: on the lane where the link has one (raw-peer.ts), else behind the chunks. */
  private sendSmall(b: Uint8Array): void {
    try {
      if (this.raw.sendSmall?.(b)) {
        this.env.counters.laneMessages++;
        return;
      }
    } catch (e) {
      return this.close(`send failed: ${(e as Error).message}`);
    }
    this.sendRaw(b);
  }

  private sendControl(c: Control): void {
    this.sendSmall(writeControl(c));
  }

  private sendChunk(x: number, o: number, n: number, d: Uint8Array): boolean {
    try {
      if (this.raw.sendv) this.raw.sendv([chunkHeader(x, o, n), d]);
      else this.raw.send(this.raw.sendCopies ? writeChunkReused(x, o, n, d) : writeChunk(x, o, n, d));
      this.queuedBytes += CHUNK_HEADER_BYTES + d.byteLength;
    } catch (e) {
      this.close(`send failed: ${(e as Error).message}`);
      return false;
    }
    this.lastUsed = Date.now();
    return true;
  }

  private onData(b: Uint8Array): void {
    if (this.state === 'closed') return;
    // The other side may see the channel open (and ask) before this side's connect event.
    this.markOpen();
    this.lastHeard = Date.now();
    let m;
    try {
      m = readMessage(b);
    } catch (e) {
      // A peer of another build is not a bad holder: its transfers fail as on a closed link (the reader goes elsewhere).
      if (e instanceof WireVersionError) return this.close(e.message);
      return this.close(`bad message from the peer: ${(e as Error).message}`, true);
    }
    this.lastUsed = Date.now();
    if (m.chunk) return this.rx.onChunk(m.chunk);
    if (m.leaves) return this.rx.onLeaves(m.leaves);
    if (m.have) return this.env.have(this, m.have);
    if (m.result) return this.env.result?.(this, m.result);
    if (m.direct) return this.env.direct?.(this, m.direct);
    const c = m.control;
    if (c.k === 'req') {
      // A reader of another build could not read our chunks: told so, it takes the object from elsewhere.
      if (c.v !== WIRE_VERSION)
        return this.sendControl({ k: 'fail', x: c.x, reason: `link wire ${c.v ?? 1} asked, this holder speaks wire ${WIRE_VERSION} (another build)` });
      void this.tx.serve(c.x, c.id, c.o ?? 0, c.e, c.h === true, c.c, c.f === true);
    } else if (c.k === 'cancel') this.tx.cancel(c.x);
    else if (c.k === 'fan') this.rx.onFan(c.x, c.m, c.r === true);
    else this.rx.onFail(c.x, c.reason);
  }
}
