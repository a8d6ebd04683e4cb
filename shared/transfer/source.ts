// An object as a holder serves it (issue 17): in memory, sent from in place;
// or spilled to disk or IndexedDB, read a window at a time while it is sent,
// so a holder never loads a spilled object whole to serve it.
import { leavesOf } from '../hash.js';

/** Bytes read from a lower tier at once; a streamed transfer holds at most two windows (one being sent, one read ahead). */
export const STREAM_WINDOW = 1 << 20;

export interface ObjectSource {
  readonly size: number;
  /** The whole object, when it is in memory. */
  readonly bytes?: Uint8Array;
  /** The leaves of its chunk-hash tree. */
  leaves(): Promise<Uint8Array>;
  /** Bytes [o, o + n) (not for in-memory sources: their bytes are there). */
  read(o: number, n: number): Promise<Uint8Array>;
}

export function memorySource(bytes: Uint8Array): ObjectSource {
  return {
    size: bytes.byteLength,
    bytes,
    leaves: () => leavesOf(bytes),
    read: (o, n) => Promise.resolve(bytes.subarray(o, o + n)),
  };
}

/** Bytes a transfer of `src` holds in memory beyond what the node holds anyway. */
export function heldWhileServing(src: ObjectSource): number {
  return src.bytes ? src.size : Math.min(src.size, 2 * STREAM_WINDOW);
}

/**
 * Where one transfer of a source is: the chunk to send next, read ahead a
 * window at a time for a streamed source. `chunk` returns null while the
 * window it needs is being read; `ready` is called once it is.
 */
export class SourceCursor {
  private readonly windows = new Map<number, Uint8Array | Promise<void>>();
  private waiting = false;
  private dead = false;

  constructor(
    readonly src: ObjectSource,
    /** Offset of the next chunk (a chunk boundary). */
    public o: number,
    private readonly ready: () => void,
    private readonly failed: (e: Error) => void,
  ) {}

  /** Up to `max` bytes at `o`, or null while they are being read. */
  chunk(max: number): Uint8Array | null {
    const { src, o } = this;
    const end = Math.min(src.size, o + max);
    if (src.bytes) return src.bytes.subarray(o, end);
    const k = Math.floor(o / STREAM_WINDOW);
    for (const w of this.windows.keys()) if (w < k) this.windows.delete(w); // sent
    const win = this.windows.get(k);
    if (win instanceof Uint8Array) {
      if ((k + 1) * STREAM_WINDOW < src.size) this.load(k + 1); // read ahead
      const at = k * STREAM_WINDOW;
      return win.subarray(o - at, Math.min(end, at + STREAM_WINDOW) - at);
    }
    this.waiting = true;
    this.load(k);
    return null;
  }

  /** The transfer ended: reads still in flight are dropped when they land. */
  close(): void {
    this.dead = true;
    this.windows.clear();
  }

  private load(k: number): void {
    if (this.windows.has(k)) return;
    const at = k * STREAM_WINDOW;
    const n = Math.min(STREAM_WINDOW, this.src.size - at);
    const p = this.src
      .read(at, n)
      .then((b) => {
        if (this.dead || this.windows.get(k) !== p) return;
        if (b.byteLength !== n) throw new Error(`read ${b.byteLength} bytes at ${at}, wanted ${n}`);
        this.windows.set(k, b);
        if (this.waiting) {
          this.waiting = false;
          this.ready();
        }
      })
      .catch((e: unknown) => {
        if (this.dead) return;
        this.close();
        this.failed(e instanceof Error ? e : new Error(String(e)));
      });
    this.windows.set(k, p);
  }
}
