// An executor thread's collection once it goes idle (session 32). Tasks leave
// garbage the thread keeps until V8 next collects: a large argument's copy, a
// buffer a task built and dropped, a result smaller than core.ts's
// LARGE_GARBAGE_BYTES. A thread that then sits idle allocates nothing, so V8
// may not collect for minutes: session 31's soak of `tabmesh start` found 51 MB
// held this way by an edge executor. EvalPool's threads (edge/eval-pool.ts) and
// the storage threads (coordinator/gcs/worker-gc.ts) collect when idle; so does
// an executor now, where the platform can collect and measure its heap (Node:
// edge/worker.ts; a tab's worker has neither). Only when its heap (JavaScript
// plus external buffers) grew by IDLE_GC_GROWTH since its last collection: an
// actor holding hundreds of MiB of state is not marked every idle second.
import type { Collect } from './view-release.js';

/** Idle this long after its last task ended (no task in flight meanwhile), the thread collects. */
export const IDLE_GC_MS = 1000;
/** Growth of the heap since the last collection below which an idle thread does not collect. */
export const IDLE_GC_GROWTH = 8 << 20;

/** This thread's heap in bytes: JavaScript objects plus the external memory they hold. */
export type HeapBytes = () => number;

export class IdleCollect {
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The last time work arrived or ended (performance.now()). */
  private lastActive = 0;
  /** The heap after the last collection (or the least seen since: V8's own collections lower it). */
  private base: number;
  /** Collections made (tests). */
  collections = 0;

  constructor(
    private readonly collect: Collect,
    private readonly heapBytes: HeapBytes,
    /** Tasks in flight now (an actor's instance, which lives on, is not one). */
    private readonly inFlight: () => number,
    private readonly idleMs = IDLE_GC_MS,
    private readonly growth = IDLE_GC_GROWTH,
  ) {
    this.base = heapBytes();
  }

  /** Work arrived: the thread is not idle. */
  busy(): void {
    this.lastActive = performance.now();
  }

  /**
   * Tasks ended (one batch of results): `idleMs` after the last activity, with nothing in flight, the heap is
   * measured (once an idle period: measuring costs ~1.5 µs, too much for every batch of empty tasks) and collected
   * if it grew.
   */
  ended(): void {
    this.lastActive = performance.now();
    this.arm(this.idleMs);
  }

  private arm(ms: number): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => this.fire(), ms);
    // A thread with nothing else to do may exit: the collection does not hold it.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private fire(): void {
    this.timer = null;
    const quiet = performance.now() - this.lastActive;
    // Work came meanwhile, or a long task still runs (its end arms the check again).
    if (quiet < this.idleMs) return this.arm(this.idleMs - quiet);
    if (this.inFlight() > 0) return;
    const now = this.heapBytes();
    if (now - this.base < this.growth) {
      this.base = Math.min(this.base, now);
      return;
    }
    this.collections++;
    this.collect();
    this.base = this.heapBytes();
  }
}
