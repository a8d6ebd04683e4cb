// Recency order of a node store's resident objects: two Maps in recency order
// (insertion order; touch = delete + set), one for primaries and one for
// secondaries. Secondaries go first (least recently used first), then
// primaries spill (only with a tier: pinned otherwise), so each step is O(1)
// even with many pinned primaries.
import type { ObjectId } from '../ids.js';

export interface Entry {
  readonly id: ObjectId;
  readonly size: number;
  readonly hash: string;
  primary: boolean;
  /** The memory copy, also while a spill is being written. */
  bytes: Uint8Array | undefined;
  /** A finished copy exists in the tier. */
  inTier: boolean;
  /** Its chunk-hash leaves once it is in the tier only (known at the spill, or read back once to serve it). */
  leaves?: Uint8Array | Promise<Uint8Array>;
  /** A tier write is in flight; the entry is out of the LRU meanwhile. */
  spilling: boolean;
  /** Recency stamp (higher = more recent), valid while in an LRU map. */
  tick: number;
}

export class StoreLru {
  /** Resident primaries / secondaries, least recently used first. */
  private readonly primaries = new Map<ObjectId, Entry>();
  private readonly secondaries = new Map<ObjectId, Entry>();
  private clock = 0;

  /** In as most recent. */
  link(e: Entry): void {
    e.tick = ++this.clock;
    this.of(e).set(e.id, e);
  }

  /** Out; whether it was in. */
  unlink(e: Entry): boolean {
    return this.primaries.delete(e.id) || this.secondaries.delete(e.id);
  }

  /** Most recent now, if it is in. */
  touch(e: Entry): void {
    const lru = this.of(e);
    if (lru.delete(e.id)) {
      e.tick = ++this.clock;
      lru.set(e.id, e);
    }
  }

  /**
   * What goes first: the least recently used secondary, then (with a tier)
   * the least recently used primary. A node's own copies stay in memory
   * while others' copies churn (issue 17).
   */
  victim(withTier: boolean): Entry | undefined {
    return first(this.secondaries) ?? (withTier ? first(this.primaries) : undefined);
  }

  private of(e: Entry): Map<ObjectId, Entry> {
    return e.primary ? this.primaries : this.secondaries;
  }
}

function first(m: Map<ObjectId, Entry>): Entry | undefined {
  for (const e of m.values()) return e;
  return undefined;
}
