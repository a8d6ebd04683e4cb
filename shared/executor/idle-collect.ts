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

  /** Work arrived: an idle collection waits for the next end. */
  busy(): void {
    if (this.timer === null) return;
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Tasks ended (one batch of results): collect after `idleMs` if nothing runs then and the heap grew. */
  ended(): void {
    const now = this.heapBytes();
    if (now < this.base) this.base = now;
    if (now - this.base < this.growth) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fire(), this.idleMs);
    // A thread with nothing else to do may exit: the collection does not hold it.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private fire(): void {
    this.timer = null;
    // Still running something (its end brings another check).
    if (this.inFlight() > 0) return;
    this.collections++;
    this.collect();
    this.base = this.heapBytes();
  }
}
