// The executor's side of lent views (issue 17, shared/node/view-leases.ts):
// every shared buffer a message lends is watched by a FinalizationRegistry;
// when the garbage collector finds one unreachable (no task, global or actor
// keeps a view of it), its lease goes back to the node in one `unlent` batch.
// An idle worker collects rarely, so the node asks (`reclaim`, naming the
// leases of buffers it freed) and a platform that can force a collection
// (Node: edge/worker.ts) runs one. A lease still held after that (a task kept
// the array) is looked at again after later tasks end, at most once a second.
import type { ExecutorEndpoint, Lent } from './protocol.js';

/** Forces a full garbage collection of this thread's heap. */
export type Collect = () => void;

/** Lease ids per `unlent` message (the node takes at most 65536). */
const UNLENT_BATCH = 4096;
/** Least time between two collections for leases still wanted after one. */
const RECOLLECT_MS = 1000;
/** Longest gap between collections while leases the node asked back are still held. */
const RECOLLECT_MAX_MS = 60_000;

export class ViewRelease {
  private readonly registry = new FinalizationRegistry<number>((id) => this.gone(id));
  /** Leases watched and not collected yet. */
  private readonly live = new Set<number>();
  /** Leases the node asked back and still held. */
  private readonly wanted = new Set<number>();
  private ids: number[] = [];
  private flushing = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the pending collection runs (performance.now()). */
  private timerAt = Infinity;
  /** The pending collection runs even with no lease wanted (madeGarbage). */
  private pendingAlways = false;
  private lastCollect = -Infinity;
  /** Gap before the next collection of its own while leases are still wanted. */
  private backoff = RECOLLECT_MS;

  constructor(
    private readonly ep: ExecutorEndpoint,
    private readonly collect?: Collect,
  ) {}

  /** Watches the buffers a message lent (call before anything views them: the registry needs the same buffer object). */
  watch(lent: Lent | undefined): void {
    if (!Array.isArray(lent)) return;
    for (const l of lent) {
      if (typeof l?.id !== 'number' || !(l.buf instanceof SharedArrayBuffer) || this.live.has(l.id)) continue;
      this.registry.register(l.buf, l.id);
      this.live.add(l.id);
    }
  }

  /** The node freed buffers of these leases: collect now. */
  reclaim(ids: unknown): void {
    if (!Array.isArray(ids)) return;
    for (const id of ids) if (this.live.has(id as number)) this.wanted.add(id as number);
    this.backoff = RECOLLECT_MS;
    this.schedule(0);
  }

  /** A batch of tasks ended: views they held may be gone now. */
  tasksEnded(): void {
    if (this.wanted.size > 0) this.schedule(RECOLLECT_MS);
  }

  /**
   * Tasks just let go of large memory (a large result was encoded: the value it came from is garbage now).
   * An idle worker would keep it until its next collection, which may not come for minutes: collect soon,
   * at most once a second.
   */
  madeGarbage(): void {
    this.schedule(RECOLLECT_MS, true);
  }

  /** A collection at least `gapMs` after the last one; an earlier pending one stands, a later one is brought forward. */
  private schedule(gapMs: number, always = false): void {
    if (!this.collect || (this.wanted.size === 0 && !always)) return;
    if (always) this.pendingAlways = true;
    const now = performance.now();
    const at = Math.max(now, this.lastCollect + gapMs);
    if (this.timer !== null) {
      if (at >= this.timerAt) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(() => this.fire(), at - now);
  }

  private fire(): void {
    this.timer = null;
    this.timerAt = Infinity;
    const always = this.pendingAlways;
    this.pendingAlways = false;
    if (this.wanted.size === 0 && !always) return;
    this.lastCollect = performance.now();
    this.collect!();
    // Finalizers run after this turn: the follow-up finds nothing to do when every wanted lease came back.
    if (this.wanted.size > 0) {
      this.schedule(this.backoff);
      this.backoff = Math.min(this.backoff * 2, RECOLLECT_MAX_MS);
    }
  }

  private gone(id: number): void {
    this.live.delete(id);
    this.wanted.delete(id);
    if (this.wanted.size === 0) this.backoff = RECOLLECT_MS;
    this.ids.push(id);
    if (this.flushing) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      const ids = this.ids;
      this.ids = [];
      for (let i = 0; i < ids.length; i += UNLENT_BATCH) this.ep.post({ k: 'unlent', ids: ids.slice(i, i + UNLENT_BATCH) });
    });
  }
}
