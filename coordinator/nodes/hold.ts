// Holding nodes that fall silent together (session 37, issue 14's 20,000-node run: a starved process's 5,000 nodes
// were declared lost together again and again, and every task on them retried past its retries). Many nodes
// missing their deadline at once says more about a shared cause (our view, a host, an uplink, a throttled office)
// than about each node: Kubernetes' node lifecycle controller stops evicting when a large share of a zone is
// NotReady (--unhealthy-zone-threshold) and then evicts at a slow rate (--secondary-node-eviction-rate). Here:
// - fewer than `minNodes` late within `windowMs`, or than a part of the share (suspectShare): each is lost at once,
//   as before the hold (the common case);
// - from there on, a late node is held (suspect): no new work, its tasks stay; it is lost after `windowMs` unless
//   the late or silent ones reach `share` of our live nodes (a mass: then the hold lasts to the bound, `deadAfterMs`
//   of silence, less what the eviction rate takes first, longest held first);
// - a held node that speaks is back with its tasks (membership.ts);
// - late nodes under that part of the share (most of a stopped host's nodes may hold nothing, and an idle node may
//   keep quiet longer: its silence shows later) are held, at least `minNodes` of them, while the idle nodes not heard
//   since their last frames could make them a mass: until those nodes' silence shows or they speak (session 38).
// The policy only: which nodes, when. Membership owns the node records and says what happened (events).
import type { NodeRecord } from '../gcs/tables.js';

export interface HoldOptions {
  /** The share of our live nodes that, late within one window, is a mass (default 0.1). */
  share: number;
  /** Late nodes within one window below which none is held (default 10): a few silent nodes are lost as before. */
  minNodes: number;
  /** A node silent this long is lost even while held (ms; default 30 s, the idle window's default; at least deadAfterMs). */
  deadAfterMs: number;
  /**
   * Held nodes of a mass declared lost per second before their bound, longest held first (default 0: none; the bound
   * resolves a real mass loss, and a node taken early that comes back has its tasks run twice, what the hold avoids).
   */
  evictPerSec: number;
}

export const HOLD_DEFAULTS: HoldOptions = { share: 0.1, minNodes: 10, deadAfterMs: 30_000, evictPerSec: 0 };

/** `o` checked (options come from embedders and the CLI): a bad value is an error at start, not a silent default. */
export function holdOptions(o: Partial<HoldOptions> | undefined, deadAfterMs: number): HoldOptions {
  const h = { ...HOLD_DEFAULTS, ...o };
  const bad = (what: string) => new RangeError(`hold.${what}`);
  if (!(h.share > 0 && h.share <= 1)) throw bad(`share must be in (0, 1], got ${h.share}`);
  if (!Number.isInteger(h.minNodes) || h.minNodes < 1) throw bad(`minNodes must be a whole number >= 1, got ${h.minNodes}`);
  if (!Number.isFinite(h.deadAfterMs) || h.deadAfterMs < 0) throw bad(`deadAfterMs must be a number of ms, got ${h.deadAfterMs}`);
  if (!Number.isFinite(h.evictPerSec) || h.evictPerSec < 0) throw bad(`evictPerSec must be >= 0, got ${h.evictPerSec}`);
  return { ...h, deadAfterMs: Math.max(deadAfterMs, h.deadAfterMs) };
}

/** What a sweep's late nodes come to: lose them now, or hold them. */
export type Verdict = 'lose' | 'hold';

/**
 * Nodes that may keep quiet longer (they said they hold nothing) not heard since the late ones' last frames: silent
 * together with them, perhaps, though nothing says so yet; by `until` (ms) their silence shows in the silent counts.
 */
export interface Hidden {
  count: number;
  until: number;
}

export class MassHold {
  /**
   * Held nodes, in the order they were held (the rate and the end of a hold that is no mass take from the front);
   * when, is the node's `heldSince` (membership.ts sets it before hold()).
   */
  private readonly held = new Set<NodeRecord>();
  /** Late nodes by sweep, [when, how many], within the last window. */
  private readonly recent: [number, number][] = [];
  private lateInWindow = 0;
  /** The held nodes are a mass (the window reached the share): they wait to the bound. Cleared when none is held. */
  mass = false;
  /** The largest count of late nodes within a window since the hold began (events say it). */
  peak = 0;
  private tokens = 0;
  private lastAt: number | null = null;
  /** Held nodes under the share wait to this time (ms) for the hidden ones' silence to show (0: no wait). */
  waitUntil = 0;

  /**
   * The share of our live nodes late within a window from which late nodes are held, pending the mass: a group that
   * went silent at once comes due over the keepalive window, a sweep's tick of it at a time, so the first sweep of
   * a mass sees `tickMs / quietMs` of it (a quarter, by default). Fewer are lost at once, as before the hold.
   */
  readonly suspectShare: number;

  constructor(
    readonly o: HoldOptions,
    /** How close in time late nodes are together (ms): the spread of a group's last frames (quietMs), and two sweeps. */
    readonly windowMs: number,
    quietMs: number,
    tickMs: number,
  ) {
    this.suspectShare = (o.share * tickMs) / Math.max(tickMs, quietMs);
  }

  get size(): number {
    return this.held.size;
  }

  /** The nodes held, longest held first (a copy: tests and tools). */
  list(): NodeRecord[] {
    return [...this.held];
  }

  /**
   * `late` nodes missed their deadline at this sweep, of `live` own nodes; `silentNow`, [silent, of how many] for each
   * kind of node, silent past their keepalive window (late or not yet); `hidden`, those whose silence does not show
   * yet: whether to lose or hold them. A sweep that holds any, or finds the window a mass, marks the hold a mass until
   * no node is held any more. Called every sweep while nodes are held (a wait ends when the hidden ones speak).
   */
  judge(now: number, late: number, live: number, silentNow: readonly (readonly [number, number])[] = [], hidden?: Hidden): Verdict {
    while (this.recent.length > 0 && this.recent[0][0] <= now - this.windowMs) this.lateInWindow -= this.recent.shift()![1];
    if (late > 0) {
      this.recent.push([now, late]);
      this.lateInWindow += late;
    }
    // Late within the window of our live nodes, or silent now past their keepalive window of those of their kind
    // (silence.ts: a group before its deadlines; nodes that hold nothing may keep quiet longer, busy ones are read alone).
    const groups = [[this.lateInWindow, live] as const, ...silentNow];
    const reach = (share: number) => groups.some(([k, of]) => k >= this.o.minNodes && k >= share * of);
    // A mass lasts while any of its nodes is held; a window that reaches the share starts one.
    this.mass = (this.mass && this.held.size > 0) || reach(this.o.share);
    const together = Math.max(...groups.map(([k]) => k));
    if (this.held.size > 0 || together >= this.o.minNodes) this.peak = Math.max(this.peak, together);
    // The late, held or silent ones are a group past the floor, and with the hidden ones they would reach the share:
    // wait for the hidden ones' silence to show (bounded by it), rather than lose what may be a mass's first nodes.
    const group = Math.max(this.held.size + late, together);
    const wait = !this.mass && hidden !== undefined && now < hidden.until && group >= this.o.minNodes && group + hidden.count >= this.o.share * live;
    this.waitUntil = wait ? hidden.until : 0;
    return reach(this.suspectShare) || (late > 0 && wait) ? 'hold' : 'lose';
  }

  hold(n: NodeRecord): void {
    this.held.add(n);
  }

  /** `n` is no longer held (it spoke, or it is gone). */
  release(n: NodeRecord): boolean {
    if (!this.held.delete(n)) return false;
    if (this.held.size === 0) this.end();
    return true;
  }

  /**
   * Held nodes to declare lost at this sweep besides those past the bound: while no mass, those held a window
   * (the window's late nodes stayed under the share: not a mass); in a mass, `evictPerSec` a second.
   */
  due(now: number): NodeRecord[] {
    const dt = this.lastAt === null ? 0 : Math.max(0, now - this.lastAt);
    this.lastAt = now;
    const out: NodeRecord[] = [];
    if (!this.mass) {
      this.tokens = 0;
      if (now < this.waitUntil) return out;
      for (const n of this.held) {
        if (n.heldSince! > now - this.windowMs) break;
        out.push(n);
      }
      return out;
    }
    // At most a second's worth banked: a stalled sweep does not release a burst.
    this.tokens = Math.min(Math.max(1, this.o.evictPerSec), this.tokens + (this.o.evictPerSec * dt) / 1000);
    for (const n of this.held) {
      if (this.tokens < 1) break;
      this.tokens--;
      out.push(n);
    }
    return out;
  }

  private end(): void {
    this.mass = false;
    this.waitUntil = 0;
    this.peak = 0;
    this.tokens = 0;
  }
}
