// The pool of a peer's links (ARCHITECTURE.md "Objects"): opened on demand
// through the coordinator's signalling relay, capped (least recently used idle
// link goes first), closed after an idle time. A link that does not come up in
// time is remembered for a while, so readers go straight to the relay.
import type { ObjectId } from '../ids.js';
import { TabmeshError } from '../errors.js';
import { PeerLink, type LinkEnv } from './link.js';
import { NoLinkError, type FetchOptions } from './fetch-errors.js';
import type { LinkFaults } from './link-send.js';
import { ServingBudget } from './serving.js';
import { FanOut } from './fan-out.js';
import { UploadCap, uploadCapOf } from './upload-cap.js';
import { FROZEN_MS } from './link-watch.js';
import type { ObjectSource } from './source.js';
import { DEFAULT_MAX_LINKS, type PeerLinksOptions, type SwarmHooks } from './links-options.js';
import { ReceiveBudget } from './receive-budget.js';
import { PeerReach } from './peer-reach.js';

export class PeerLinks {
  readonly links = new Map<string, PeerLink>();
  /** Peers whose link did not come up lately, those that left (not tried again, even by a swarm: linkTo `again`), and when each last signalled. */
  private readonly reach: PeerReach;
  /**
   * `unreachable`: signals the coordinator could not deliver (the peer left). `frozen`: links closed by the stats
   * watchdog (link-watch.ts), `stuck`: by the stall net (nothing either way for stallMs).
   */
  readonly counters = { bytesIn: 0, bytesOut: 0, laneMessages: 0, unreachable: 0, frozen: 0, stuck: 0, sendWakes: { drain: 0, timer: 0 } };
  /** Test-only faults: see LinkFaults. */
  readonly faults: LinkFaults = {};
  /** Links that came up, by what carries them (raw.transport; 'webrtc' where the factory does not say). */
  readonly opened: Record<string, number> = {};
  /** Link attempts that did not come up in time, or broke. */
  failures = 0;
  /** Receive buffers reserved at once (incomingBytes). */
  private readonly received: ReceiveBudget;
  private readonly env: LinkEnv;
  private readonly timer: unknown;
  private stopped = false;
  readonly maxLinks: number;
  private readonly idleMs: number;
  private readonly connectTimeoutMs: number;
  private readonly stallMs: number;
  private readonly frozenMs: number;
  readonly incomingBytes: number;
  readonly serving: ServingBudget;
  /** Readers this node streams whole copies to, per object (fan-out.ts). */
  readonly fan = new FanOut();
  /** The node's cap on its upload; null: none (setUploadCap). */
  upload: UploadCap | null;
  swarm: SwarmHooks | null = null;

  constructor(private readonly o: PeerLinksOptions) {
    this.maxLinks = o.maxLinks ?? DEFAULT_MAX_LINKS;
    this.idleMs = o.idleMs ?? 60_000;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
    this.stallMs = o.stallMs ?? 10_000;
    this.incomingBytes = o.incomingBytes ?? 32 << 20;
    this.received = new ReceiveBudget(this.incomingBytes);
    this.reach = new PeerReach(o.failedForMs ?? 30_000);
    this.serving = new ServingBudget(o.servingBytes ?? 256 << 20);
    this.upload = uploadCapOf(o.maxUploadMiBps);
    this.frozenMs = o.frozenMs ?? FROZEN_MS;
    const log = o.log ?? (() => {});
    const upload = () => this.upload;
    this.env = {
      lookup: (id) => o.lookup(id),
      partial: (id, from, end) => this.swarm?.partial(id, from, end),
      have: (link, h) => this.swarm?.have(link.peer, h),
      result: (link, r) => o.result?.(link.peer, r),
      direct: (link, d) => o.direct?.(link.peer, d),
      serving: this.serving,
      fan: this.fan,
      // Read at each chunk: the volunteer may change the cap while links serve.
      get upload() {
        return upload();
      },
      frozenMs: this.frozenMs,
      faults: this.faults,
      counters: this.counters,
      closed: (link, why) => {
        if (this.links.get(link.peer) === link) this.links.delete(link.peer);
        if (why.startsWith('error') || why.startsWith('send failed')) this.failures++;
        o.linkClosed?.(link.peer);
      },
      log,
    };
    this.timer = setInterval(() => this.maintain(), 1000);
    (this.timer as { unref?: () => void }).unref?.();
  }

  /**
   * Changes this node's upload cap (MiB/s; undefined or 0: none) while its links serve: chunks from now on are
   * paced at the new rate (a volunteer's setting, client-web/node/volunteer.ts).
   */
  setUploadCap(mibPerS: number | undefined): void {
    if (mibPerS === undefined || mibPerS === 0) this.upload = null;
    else if (this.upload) this.upload.set(mibPerS);
    else this.upload = new UploadCap(mibPerS);
  }

  /** An object held here, if any: its bytes, or a source streaming it from a lower tier. */
  lookup(id: ObjectId): Promise<Uint8Array | ObjectSource | undefined> {
    return this.o.lookup(id);
  }

  /** Whether an open link to `peer` exists (readers prefer such holders). */
  isOpen(peer: string): boolean {
    return this.links.get(peer)?.state === 'open';
  }

  /**
   * Sends a task's result to `peer` when a TCP link to it is open (true), else
   * starts opening one for the next (false): a shortcut never waits for a link,
   * and does not take a WebRTC one (a data channel's hop is no shorter than the coordinator's).
   */
  sendShortcut(peer: string, b: () => Uint8Array): boolean {
    const link = this.links.get(peer);
    if (link?.state === 'open') {
      if (link.raw.transport !== 'tcp') return false;
      link.sendShortcut(b());
      return true;
    }
    if (!link && this.usable(peer) && this.o.self() !== null) void this.linkTo(peer).catch(() => {});
    return false;
  }

  /** Sends a direct submission's message (shared/protocol/direct.ts) when a TCP link to `peer` is open (true); never opens one. */
  sendDirect(peer: string, b: Uint8Array): boolean {
    const link = this.links.get(peer);
    if (link?.state !== 'open' || link.raw.transport !== 'tcp') return false;
    link.sendShortcut(b);
    return true;
  }

  /** Whether a link to `peer` is worth trying now. */
  usable(peer: string): boolean {
    return !this.stopped && this.reach.usable(peer);
  }

  /** Fetches object `id` (of `size` bytes) from `peer` over a link, opening one if needed. */
  async fetch(peer: string, id: ObjectId, size: number, opts: FetchOptions = {}): Promise<Uint8Array> {
    const link = await this.linkTo(peer);
    await this.reserve(size);
    try {
      return await link.fetch(id, size, opts);
    } finally {
      this.unreserve(size);
    }
  }

  /**
   * The open link to `peer`, opened now if there is none. A link that does not
   * come up fails with NoLinkError, and the peer is not tried again for
   * failedForMs (a fetch goes to the relay) unless `again`: a swarm asks a
   * source that was only slow to link again after its backoff (swarm-window.ts);
   * never one that left.
   */
  async linkTo(peer: string, again = false): Promise<PeerLink> {
    for (let tries = 0; ; tries++) {
      if (!this.usable(peer) && (!again || this.stopped || this.reach.hasLeft(peer)))
        throw new NoLinkError(`no peer link to ${peer} (a recent attempt failed)`, this.reach.hasLeft(peer));
      let link = this.links.get(peer);
      if (!link) link = this.open(peer);
      try {
        await link.opened;
        link.lastUsed = Date.now();
        return link;
      } catch (e) {
        // Replaced by the other side's attempt (both opened at once): use that one.
        const now = this.links.get(peer);
        if (now && now !== link && tries < 3) continue;
        throw new NoLinkError((e as Error).message, this.reach.hasLeft(peer));
      }
    }
  }

  private open(peer: string): PeerLink {
    const self = this.o.self();
    if (!self || peer === self) throw new TabmeshError('CLOSED', 'no peer link to oneself');
    const gen = randomGen();
    const link = this.add(peer, gen, true);
    const timer = setTimeout(() => {
      if (link.state !== 'connecting') return;
      this.reach.failed(peer);
      this.failures++;
      link.close(`no link within ${this.connectTimeoutMs} ms`);
    }, this.connectTimeoutMs);
    void link.opened.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    return link;
  }

  private add(peer: string, gen: string, initiator: boolean): PeerLink {
    const raw = this.o.factory(initiator, this.o.ice?.());
    const link = new PeerLink(peer, gen, initiator, raw, this.env);
    void link.opened.then(
      () => {
        const k = raw.transport ?? 'webrtc';
        this.opened[k] = (this.opened[k] ?? 0) + 1;
        this.o.log?.(`peer link to ${peer} open over ${k}`);
      },
      () => {},
    );
    raw.onSignal = (s) => {
      if (link.state !== 'closed') this.o.sendSignal(peer, JSON.stringify({ g: gen, s }));
    };
    this.links.set(peer, link);
    this.evict(link);
    return link;
  }

  /**
   * When a signal from `peer` last came (the coordinator's relay vouches for
   * the sender): a dial it answers, or its own, shows it is there (swarm-pick.ts).
   */
  signalledAt(peer: string): number {
    return this.reach.signalledAt(peer);
  }

  /** A signal from `peer`, relayed by the coordinator (which vouches for who sent it). */
  onSignal(peer: string, text: string): void {
    if (this.stopped) return;
    this.reach.heard(peer);
    let g: unknown, s: unknown;
    try {
      ({ g, s } = JSON.parse(text) as { g: unknown; s: unknown });
    } catch {
      return;
    }
    if (typeof g !== 'string' || typeof s !== 'object' || s === null) return;
    const existing = this.links.get(peer);
    if (existing && existing.gen === g) {
      existing.raw.signal(s);
      return;
    }
    if ((s as { type?: unknown }).type !== 'offer') return; // a late candidate of a link gone
    if (existing && existing.state === 'connecting' && existing.initiator && (this.o.self() ?? '') < peer) {
      return; // both sides opened at once: the smaller id's offer wins, the other side yields
    }
    existing?.close('replaced by a new connection from the peer');
    this.reach.offered(peer);
    const link = this.add(peer, g, false);
    const timer = setTimeout(() => {
      if (link.state === 'connecting') link.close(`no link within ${this.connectTimeoutMs} ms`);
    }, this.connectTimeoutMs);
    void link.opened.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    link.raw.signal(s);
  }

  /**
   * The coordinator could not deliver a signal to `peer`: it left. A link to it
   * still opening fails now, not at the connect timeout, and it is not tried
   * again for a while; its waiters (a swarm read's tell, a fetch) go elsewhere.
   * An open link is left alone: it may outlive the peer's coordinator session.
   */
  unreachable(peer: string): void {
    if (this.stopped) return;
    this.counters.unreachable++;
    const link = this.links.get(peer);
    if (!link || link.state !== 'connecting') return;
    this.reach.failed(peer, true);
    this.failures++;
    link.close('the peer left (the coordinator could not signal it)');
  }

  /** Keeps the pool within its cap: closes the least recently used idle links. */
  private evict(keep: PeerLink | null): void {
    while (this.links.size > this.maxLinks) {
      let lru: PeerLink | null = null;
      for (const l of this.links.values()) if (l !== keep && !l.busy && (!lru || l.lastUsed < lru.lastUsed)) lru = l;
      if (!lru) return; // every link is busy: over the cap until one is idle
      lru.close('pool is full');
    }
  }

  private maintain(): void {
    const now = Date.now();
    for (const l of [...this.links.values()]) {
      const stuck = l.state === 'open' && l.frozen(now, this.stallMs);
      if (l.state === 'open') l.checkStalls(now, this.stallMs);
      if (stuck) {
        this.counters.stuck++;
        l.closeStuck(this.stallMs);
      }
      if (l.state === 'open' && !l.busy && now - l.lastUsed > this.idleMs) l.close('idle');
      if (l.state === 'open') void this.watch(l, now);
    }
    this.reach.expire(now);
    this.fan.prune(now);
    this.evict(null);
  }

  /** The stats watchdog's tick on link `l`: closes it once it is frozen (link-watch.ts). */
  private async watch(l: PeerLink, now: number): Promise<void> {
    if (!(await l.watchdog(now)) || this.stopped) return;
    this.counters.frozen++;
    l.closeFrozen(this.frozenMs);
  }

  /** Reserves `n` bytes of receive buffers (the swarm reserves an object once for all its runs). */
  reserve(n: number): Promise<void> {
    return this.received.reserve(n);
  }

  unreserve(n: number): void {
    this.received.release(n);
  }

  /** Receive-buffer bytes reserved now (none once every fetch ended: the sim tests check). */
  get reservedBytes(): number {
    return this.received.reserved;
  }

  /** Most receive-buffer bytes reserved at once (tests check memory stays bounded, and may reset it). */
  get peakReserved(): number {
    return this.received.peak;
  }

  set peakReserved(n: number) {
    this.received.peak = n;
  }

  /** Closes every link (a test's "cut", or shutdown). */
  closeAll(why = 'closed here'): void {
    for (const l of [...this.links.values()]) l.close(why);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.closeAll('peer is leaving');
  }
}

function randomGen(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
