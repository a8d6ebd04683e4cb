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
import { TierOps, type SpillTier } from './spill-tier.js';
import { StoreLru, type Entry } from './store-lru.js';
import { spilledSource } from './spilled-source.js';
import { knownLeavesOf } from '../hash.js';
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
  private readonly budget: number;
  private readonly tier: SpillTier | undefined;
  /** Who hears of dropped copies; a node that reconnects with this store points it at its new session. */
  onDropped: ((ids: ObjectId[]) => void) | undefined;

  private readonly entries = new Map<ObjectId, Entry>();
  private readonly lru = new StoreLru();
  /** Secondaries larger than the budget: dropped at the next eviction pass. */
  private readonly oversized = new Set<ObjectId>();
  private readonly tierOps = new TierOps();

  private memBytes = 0;
  private inflightBytes = 0;
  private tierBytes = 0;
  private spillCount = 0;
  private dropCount = 0;

  constructor(opts: ObjectStoreOptions) {
    if (!Number.isFinite(opts.memoryBytes) || opts.memoryBytes < 0) {
      throw new RangeError(`memoryBytes must be a non-negative number, got ${opts.memoryBytes}`);
    }
    this.budget = opts.memoryBytes;
    this.tier = opts.tier;
    this.onDropped = opts.onDropped;
  }

  /** Everything held, in any tier: what a node announces when it reconnects. */
  list(): StoredObject[] {
    const out: StoredObject[] = [];
    for (const id of this.entries.keys()) {
      const i = this.info(id);
      if (i) out.push(i);
    }
    return out;
  }

  /** In any tier (including while its spill is in flight). */
  has(id: ObjectId): boolean {
    return this.entries.has(id);
  }

  info(id: ObjectId): StoredObject | undefined {
    const e = this.entries.get(id);
    return e && { id: e.id, size: e.size, hash: e.hash, primary: e.primary };
  }

  /**
   * Store `bytes` (kept by reference: objects are immutable, callers must not
   * mutate them) synchronously into memory, then enforce the budget. Putting
   * an id already held only touches it, and upgrades it to primary when
   * `meta.primary` is set (a primary is never downgraded; delete frees it).
   */
  put(id: ObjectId, bytes: Uint8Array, meta: { hash: string; primary: boolean }): void {
    const existing = this.entries.get(id);
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
    this.entries.set(id, e);
    this.memBytes += e.size;
    const tooBig = e.size > this.budget;
    if (tooBig && e.primary && this.tier) {
      // Straight to the tier; readable from memory until the write finished.
      this.spill(e);
      this.enforce();
    } else if (tooBig && !e.primary) {
      // Kept for whoever needs it right now, dropped at the next pass; it does
      // not push anything else out.
      this.lru.link(e);
      this.oversized.add(id);
      this.enforce(e);
    } else {
      // (An oversized primary with no tier lands here too: pinned.)
      this.lru.link(e);
      this.enforce(undefined, e.primary ? undefined : e);
    }
  }

  /** Memory first (touches the LRU), else the tier; read back into memory when it fits in the free room. */
  async get(id: ObjectId): Promise<Uint8Array | undefined> {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (e.bytes) {
      this.lru.touch(e);
      return e.bytes;
    }
    if (!this.tier) return undefined; // unreachable: tier-only entries need a tier
    const bytes = await this.tier.get(id);
    if (this.entries.get(id) !== e) return bytes; // deleted (or replaced) meanwhile
    if (!bytes) {
      if (!e.bytes) this.lost(e);
      return e.bytes;
    }
    if (!e.bytes && e.inTier && e.size <= this.budget - this.staying()) {
      e.bytes = bytes;
      this.memBytes += e.size;
      this.lru.link(e);
    }
    return bytes;
  }

  /**
   * The object to serve a reader: its bytes when in memory, else streamed
   * from the tier a window at a time (issue 17: never loaded whole to be sent).
   */
  async source(id: ObjectId): Promise<ObjectSource | undefined> {
    const e = this.entries.get(id);
    if (!e) return undefined;
    if (e.bytes) {
      this.lru.touch(e);
      return memorySource(e.bytes);
    }
    const tier = this.tier;
    if (tier?.read) return spilledSource({ read: (i, o, n) => tier.read!(i, o, n) }, e);
    const bytes = await this.get(id);
    return bytes && memorySource(bytes);
  }

  /** Memory tier only (also while a spill is in flight); touches the LRU. */
  getSync(id: ObjectId): Uint8Array | undefined {
    const e = this.entries.get(id);
    if (!e?.bytes) return undefined;
    this.lru.touch(e);
    return e.bytes;
  }

  /** From every tier; a spill in flight is undone once its write finished. */
  delete(id: ObjectId): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    this.lru.unlink(e);
    this.oversized.delete(id);
    if (e.bytes) this.memBytes -= e.size;
    if (e.spilling) this.inflightBytes -= e.size;
    if (e.inTier) this.tierBytes -= e.size;
    const tier = this.tier;
    if (tier && (e.inTier || e.spilling)) {
      this.tierOps.run(
        id,
        () => tier.delete(id),
        (err) => {
          console.warn(`tabmesh store: could not delete ${id} from the tier:`, err);
        },
      );
    }
    e.bytes = undefined;
    e.spilling = false;
    e.inTier = false;
  }

  get memoryBytes(): number {
    return this.memBytes;
  }

  get spilledBytes(): number {
    return this.tierBytes;
  }

  get count(): number {
    return this.entries.size;
  }

  stats(): ObjectStoreStats {
    return {
      objects: this.entries.size,
      memoryBytes: this.memBytes,
      spilledBytes: this.tierBytes,
      spills: this.spillCount,
      drops: this.dropCount,
    };
  }

  /** Resolves once every tier operation started so far has settled (shutdown, tests). */
  async idle(): Promise<void> {
    await this.tierOps.idle();
  }

  // ---- internals ----

  /** Bytes that stay in memory: held minus spills in flight. */
  private staying(): number {
    return this.memBytes - this.inflightBytes;
  }

  private refresh(e: Entry, bytes: Uint8Array, primary: boolean): void {
    if (primary && !e.primary) {
      const wasLinked = this.lru.unlink(e);
      e.primary = true;
      this.oversized.delete(e.id);
      if (wasLinked) this.lru.link(e);
    }
    if (e.bytes) {
      this.lru.touch(e);
    } else if (!e.spilling && bytes.byteLength === e.size && e.size <= this.budget - this.staying()) {
      // Only in the tier, and we were handed the bytes again: keep them.
      e.bytes = bytes;
      this.memBytes += e.size;
      this.lru.link(e);
    }
    if (e.size > this.budget && e.primary && e.bytes && !e.inTier && !e.spilling && this.tier) {
      this.lru.unlink(e);
      this.spill(e);
    }
    this.enforce();
  }

  /**
   * One eviction pass: drop the oversized secondaries kept from earlier puts,
   * then evict least recently used objects until the staying bytes fit the
   * budget. `fresh` (an oversized secondary just put) is neither dropped nor
   * counted in this pass.
   */
  private enforce(fresh?: Entry, secondary?: Entry): void {
    const dropped: ObjectId[] = [];
    for (const id of this.oversized) {
      const e = this.entries.get(id);
      if (e && e !== fresh && e !== secondary) this.drop(e, dropped);
    }
    const extra = fresh ? fresh.size : 0;
    while (this.staying() - extra > this.budget) {
      const victim = this.lru.victim(this.tier !== undefined);
      if (!victim || victim === fresh) break;
      if (secondary && (victim === secondary || victim.primary)) {
        // A secondary copy never pushes a primary out (issue 17): it is not
        // kept (its reader has its bytes already).
        this.drop(secondary, dropped);
        continue;
      }
      if (victim.primary) {
        this.lru.unlink(victim);
        if (victim.inTier) {
          // Read back earlier: its tier copy is still there.
          victim.bytes = undefined;
          this.memBytes -= victim.size;
        } else {
          this.spill(victim);
        }
      } else {
        this.drop(victim, dropped);
      }
    }
    if (dropped.length > 0 && this.onDropped) {
      try {
        this.onDropped(dropped);
      } catch (err) {
        console.error('tabmesh store: onDropped threw:', err);
      }
    }
  }

  private drop(e: Entry, dropped: ObjectId[]): void {
    this.entries.delete(e.id);
    this.lru.unlink(e);
    this.oversized.delete(e.id);
    if (e.bytes) this.memBytes -= e.size;
    e.bytes = undefined;
    this.dropCount++;
    dropped.push(e.id);
  }

  /** The tier no longer has an object we only had there. */
  private lost(e: Entry): void {
    this.entries.delete(e.id);
    this.lru.unlink(e);
    if (e.inTier) this.tierBytes -= e.size;
    e.inTier = false;
    this.dropCount++;
    console.warn(`tabmesh store: ${e.id} is missing from the tier`);
    if (this.onDropped) {
      try {
        this.onDropped([e.id]);
      } catch (err) {
        console.error('tabmesh store: onDropped threw:', err);
      }
    }
  }

  /** Start writing `e` (out of the LRU already) to the tier. */
  private spill(e: Entry): void {
    const tier = this.tier!;
    const bytes = e.bytes!;
    e.spilling = true;
    this.inflightBytes += e.size;
    this.tierOps.run(
      e.id,
      async () => {
        await tier.put(e.id, bytes);
        if (this.entries.get(e.id) !== e || !e.spilling) return; // deleted: its tier delete is chained after us
        e.spilling = false;
        this.inflightBytes -= e.size;
        e.leaves ??= knownLeavesOf(bytes);
        e.bytes = undefined;
        this.memBytes -= e.size;
        e.inTier = true;
        this.tierBytes += e.size;
        this.spillCount++;
      },
      (err) => {
        console.warn(`tabmesh store: spilling ${e.id} failed, keeping it in memory:`, err);
        if (this.entries.get(e.id) !== e || !e.spilling) return;
        // Never lose a primary: back into memory (as most recent, so the next
        // pass tries older objects first).
        e.spilling = false;
        this.inflightBytes -= e.size;
        this.lru.link(e);
      },
    );
  }
}
