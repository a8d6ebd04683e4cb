// A storage thread's own collections (issue 14, session 31). The SQLite writer
// is handed a write batch's buffer on each flush (transferred from the
// coordinator's thread, worker-storage.ts) and makes a Buffer of every row it
// loads; each stays in memory until the thread collects, and a thread that
// allocates little JavaScript of its own collects late: session 29's soak of
// `tabmesh start` found ~215 MB of such garbage held by the writer (forced GC
// through the inspector), as EvalPool's threads held theirs (edge/eval-pool.ts,
// whose idle collection this follows). So the thread collects once idle
// IDLE_GC_MS after it took IDLE_GC_BYTES, and at once after BUSY_GC_BYTES
// however busy: a full GC of its heap of a few MiB, on its own thread.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A thread with no batch for this long collects (when it took IDLE_GC_BYTES since its last collection). */
export const IDLE_GC_MS = 1000;
/** Bytes taken since the last collection below which an idle thread does not collect: a lone small write costs no GC. */
export const IDLE_GC_BYTES = 1 << 20;
/** Bytes taken since the last collection past which the thread collects right after the batch, idle or not. */
export const BUSY_GC_BYTES = 64 << 20;

/** `gc`, taken as cli/gc.ts and EvalPool take it (--expose-gc left on: turning it off could race another thread turning it on). */
function takeGc(): (() => void) | null {
  const take = () => runInNewContext('typeof gc === "function" ? gc : null') as (() => void) | null;
  const gc = take();
  if (gc) return gc;
  setFlagsFromString('--expose-gc');
  return take();
}

export class ThreadCollector {
  private taken = 0;
  private idle: NodeJS.Timeout | undefined;
  private soon: NodeJS.Immediate | undefined;
  /** Collections made (tests, benches). */
  collections = 0;
  /** Called after each collection (the SQLite writer publishes the count: SqliteStorage.stats). */
  collected: (() => void) | undefined;

  constructor(
    private readonly gc: (() => void) | null = takeGc(),
    private readonly idleMs = IDLE_GC_MS,
    private readonly idleBytes = IDLE_GC_BYTES,
    private readonly busyBytes = BUSY_GC_BYTES,
  ) {}

  /** After a message whose buffers (`bytes` of them) are garbage once it is handled. */
  took(bytes: number): void {
    if (!this.gc) return;
    this.taken += bytes;
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    if (this.taken >= this.busyBytes) {
      // After the messages already queued: the one being handled still holds its buffer.
      this.soon ??= setImmediate(() => this.collect());
      return;
    }
    if (this.taken >= this.idleBytes) {
      this.idle = setTimeout(() => this.collect(), this.idleMs);
      this.idle.unref();
    }
  }

  /** Stops the timers (the thread closes). */
  stop(): void {
    if (this.idle) clearTimeout(this.idle);
    if (this.soon) clearImmediate(this.soon);
    this.idle = this.soon = undefined;
  }

  private collect(): void {
    this.stop();
    this.taken = 0;
    this.collections++;
    this.gc?.();
    this.collected?.();
  }
}
