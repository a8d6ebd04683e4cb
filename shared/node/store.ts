// The node's object store (ARCHITECTURE.md, "Objects"): a byte-accounted LRU
// memory tier over an optional lower tier (IndexedDB in browsers, a folder on
// edge nodes). Under pressure a primary copy spills to the lower tier and a
// secondary copy is dropped (and reported, so the GCS can be told).
//
// Accounting:
// - `memoryBytes` is every byte held in memory, including objects whose
//   spill is still being written (they stay readable until it finished).
// - The budget is enforced on the bytes that are staying: memory minus the
//   spills in flight, so a pass never evicts more because a spill is slow.
// - `spilledBytes` is every byte that has a finished tier copy. An object read
//   back from the tier keeps its tier copy (evicting it again is then free),
//   so it can count in both `memoryBytes` and `spilledBytes`.
//
// Eviction order: see store-lru.ts. A secondary being put only pushes out
// other secondaries (issue 17): when they are not enough, it is not kept.
// Tier operations are chained per id (spill-tier.ts).
import type { ObjectId } from '../ids.js';
import { recycle } from '../bytes.js';
import { TierOps, type SpillTier } from './spill-tier.js';
import { StoreLru, type Entry } from './store-lru.js';
import { spilledSource } from './spilled-source.js';
import { enforce, lost, spill, staying, type StoreState } from './store-evict.js';
import { memorySource, type ObjectSource } from '../transfer/source.js';

export type { SpillTier } from './spill-tier.js';

export interface StoredObject {
  id: ObjectId;
  size: number;
  hash: string;
  primary: boolean;
}

export interface ObjectStoreOptions {
  /** Budget of the memory tier, in bytes. */
  memoryBytes: number;
  tier?: SpillTier;
  /**
   * Ids this node no longer holds: secondaries evicted (once per eviction
   * pass, all of them together), or an object whose tier copy vanished.
   */
  onDropped?: (ids: ObjectId[]) => void;
}

export interface ObjectStoreStats {
  objects: number;
  memoryBytes: number;
  spilledBytes: number;
  /** Spill writes finished. */
  spills: number;
  /** Secondaries dropped (plus objects found missing from the tier). */
  drops: number;
}

export class ObjectStore {
  private readonly s: StoreState;

  /** Who hears of dropped copies; a node that reconnects with this store points it at its new session. */
  get onDropped(): ((ids: ObjectId[]) => void) | undefined {
    return this.s.onDropped;
  }
  set onDropped(f: ((ids: ObjectId[]) => void) | undefined) {
    this.s.onDropped = f;
  }

  constructor(opts: ObjectStoreOptions) {
    if (!Number.isFinite(opts.memoryBytes) || opts.memoryBytes < 0) {
      throw new RangeError(`memoryBytes must be a non-negative number, got ${opts.memoryBytes}`);
    }
    this.s = {
      budget: opts.memoryBytes,
      tier: opts.tier,
      entries: new Map(),
      lru: new StoreLru(),
      oversized: new Set(),
      tierOps: new TierOps(),
      memBytes: 0,
      inflightBytes: 0,
      tierBytes: 0,
      spillCount: 0,
      dropCount: 0,
      onDropped: opts.onDropped,
    };
  }

  /** Everything held, in any tier: what a node announces when it reconnects. */
  list(): StoredObject[] {
    const out: StoredObject[] = [];
    for (const id of this.s.entries.keys()) {
      const i = this.info(id);
      if (i) out.push(i);
    }
    return out;
  }

  /** In any tier (including while its spill is in flight). */
  has(id: ObjectId): boolean {
    return this.s.entries.has(id);
  }

  info(id: ObjectId): StoredObject | undefined {
    const e = this.s.entries.get(id);
    return e && { id: e.id, size: e.size, hash: e.hash, primary: e.primary };
  }

  /**
   * Store `bytes` (kept by reference: objects are immutable, callers must not
   * mutate them) synchronously into memory, then enforce the budget. Putting
   * an id already held only touches it, and upgrades it to primary when
   * `meta.primary` is set (a primary is never downgraded; delete frees it).
   */
  put(id: ObjectId, bytes: Uint8Array, meta: { hash: string; primary: boolean }): void {
    const existing = this.s.entries.get(id);
    if (existing) {
      this.refresh(existing, bytes, meta.primary);
      return;
    }
    const e: Entry = {
      id,
      size: bytes.byteLength,
      hash: meta.hash,
      primary: meta.primary,
      bytes,
      inTier: false,
      spilling: false,
      tick: 0,
    };
    this.s.entries.set(id, e);
    this.s.memBytes += e.size;
    const tooBig = e.size > this.s.budget;
    if (tooBig && e.primary && this.s.tier) {
      // Straight to the tier; readable from memory until the write finished.
      spill(this.s, e);
      enforce(this.s);
    } else if (tooBig && !e.primary) {
      // Kept for whoever needs it right now, dropped at the next pass; it does
      // not push anything else out.
      this.s.lru.link(e);
      this.s.oversized.add(id);
      enforce(this.s, e);
    } else {
      // (An oversized primary with no tier lands here too: pinned.)
      this.s.lru.link(e);
      enforce(this.s, undefined, e.primary ? undefined : e);
    }
  }

  /** Memory first (touches the LRU), else the tier; read back into memory when it fits in the free room. */
  async get(id: ObjectId): Promise<Uint8Array | undefined> {
    const e = this.s.entries.get(id);
    if (!e) return undefined;
    if (e.bytes) {
      this.s.lru.touch(e);
      return e.bytes;
    }
    if (!this.s.tier) return undefined; // unreachable: tier-only entries need a tier
    const bytes = await this.s.tier.get(id);
    if (this.s.entries.get(id) !== e) return bytes; // deleted (or replaced) meanwhile
    if (!bytes) {
      if (!e.bytes) lost(this.s, e);
      return e.bytes;
    }
    if (!e.bytes && e.inTier && e.size <= this.s.budget - staying(this.s)) {
      e.bytes = bytes;
      this.s.memBytes += e.size;
      this.s.lru.link(e);
    }
    return bytes;
  }

  /**
   * The object to serve a reader: its bytes when in memory, else streamed
   * from the tier a window at a time (issue 17: never loaded whole to be sent).
   */
  async source(id: ObjectId): Promise<ObjectSource | undefined> {
    const e = this.s.entries.get(id);
    if (!e) return undefined;
    if (e.bytes) {
      this.s.lru.touch(e);
      return memorySource(e.bytes);
    }
    const tier = this.s.tier;
    if (tier?.read) return spilledSource({ read: (i, o, n) => tier.read!(i, o, n) }, e);
    const bytes = await this.get(id);
    return bytes && memorySource(bytes);
  }

  /** Memory tier only (also while a spill is in flight); touches the LRU. */
  getSync(id: ObjectId): Uint8Array | undefined {
    const e = this.s.entries.get(id);
    if (!e?.bytes) return undefined;
    this.s.lru.touch(e);
    return e.bytes;
  }

  /**
   * From every tier; a spill in flight is undone once its write finished. The
   * object is freed: its memory goes back to the pool (shared/bytes.ts) unless
   * a view of it may still be read elsewhere (then once the last is let go).
   */
  delete(id: ObjectId): void {
    const e = this.s.entries.get(id);
    if (!e) return;
    this.s.entries.delete(id);
    this.s.lru.unlink(e);
    this.s.oversized.delete(id);
    if (e.bytes) this.s.memBytes -= e.size;
    if (e.spilling) this.s.inflightBytes -= e.size;
    if (e.inTier) this.s.tierBytes -= e.size;
    const tier = this.s.tier;
    if (tier && (e.inTier || e.spilling)) {
      this.s.tierOps.run(
        id,
        () => tier.delete(id),
        (err) => {
          console.warn(`tabmesh store: could not delete ${id} from the tier:`, err);
        },
      );
    }
    // A spill being written still reads the bytes.
    if (e.bytes && !e.spilling) recycle(e.bytes);
    e.bytes = undefined;
    e.spilling = false;
    e.inTier = false;
  }

  get memoryBytes(): number {
    return this.s.memBytes;
  }

  get spilledBytes(): number {
    return this.s.tierBytes;
  }

  get count(): number {
    return this.s.entries.size;
  }

  stats(): ObjectStoreStats {
    return {
      objects: this.s.entries.size,
      memoryBytes: this.s.memBytes,
      spilledBytes: this.s.tierBytes,
      spills: this.s.spillCount,
      drops: this.s.dropCount,
    };
  }

  /** Resolves once every tier operation started so far has settled (shutdown, tests). */
  async idle(): Promise<void> {
    await this.s.tierOps.idle();
  }

  // ---- internals ----

  private refresh(e: Entry, bytes: Uint8Array, primary: boolean): void {
    if (primary && !e.primary) {
      const wasLinked = this.s.lru.unlink(e);
      e.primary = true;
      this.s.oversized.delete(e.id);
      if (wasLinked) this.s.lru.link(e);
    }
    if (e.bytes) {
      this.s.lru.touch(e);
    } else if (!e.spilling && bytes.byteLength === e.size && e.size <= this.s.budget - staying(this.s)) {
      // Only in the tier, and we were handed the bytes again: keep them.
      e.bytes = bytes;
      this.s.memBytes += e.size;
      this.s.lru.link(e);
    }
    if (e.size > this.s.budget && e.primary && e.bytes && !e.inTier && !e.spilling && this.s.tier) {
      this.s.lru.unlink(e);
      spill(this.s, e);
    }
    enforce(this.s);
  }
}
