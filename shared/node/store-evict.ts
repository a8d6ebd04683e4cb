// The object store's accounting and eviction (store.ts explains the rules):
// one eviction pass, dropping a secondary, spilling a primary to the tier,
// and an object found missing from the tier. Free functions over the store's
// state, which only ObjectStore and these functions touch.
import type { ObjectId } from '../ids.js';
import { knownLeavesOf } from '../hash.js';
import type { SpillTier, TierOps } from './spill-tier.js';
import type { Entry, StoreLru } from './store-lru.js';

export interface StoreState {
  readonly budget: number;
  readonly tier: SpillTier | undefined;
  readonly entries: Map<ObjectId, Entry>;
  readonly lru: StoreLru;
  /** Secondaries larger than the budget: dropped at the next eviction pass. */
  readonly oversized: Set<ObjectId>;
  readonly tierOps: TierOps;
  memBytes: number;
  inflightBytes: number;
  tierBytes: number;
  spillCount: number;
  dropCount: number;
  onDropped: ((ids: ObjectId[]) => void) | undefined;
}

/** Bytes that stay in memory: held minus spills in flight. */
export function staying(s: StoreState): number {
  return s.memBytes - s.inflightBytes;
}

/**
 * One eviction pass: drop the oversized secondaries kept from earlier puts,
 * then evict least recently used objects until the staying bytes fit the
 * budget. `fresh` (an oversized secondary just put) is neither dropped nor
 * counted in this pass.
 */
export function enforce(s: StoreState, fresh?: Entry, secondary?: Entry): void {
  const dropped: ObjectId[] = [];
  for (const id of s.oversized) {
    const e = s.entries.get(id);
    if (e && e !== fresh && e !== secondary) drop(s, e, dropped);
  }
  const extra = fresh ? fresh.size : 0;
  while (staying(s) - extra > s.budget) {
    const victim = s.lru.victim(s.tier !== undefined);
    if (!victim || victim === fresh) break;
    if (secondary && (victim === secondary || victim.primary)) {
      // A secondary copy never pushes a primary out (issue 17): it is not
      // kept (its reader has its bytes already).
      drop(s, secondary, dropped);
      continue;
    }
    if (victim.primary) {
      s.lru.unlink(victim);
      if (victim.inTier) {
        // Read back earlier: its tier copy is still there.
        victim.bytes = undefined;
        s.memBytes -= victim.size;
      } else {
        spill(s, victim);
      }
    } else {
      drop(s, victim, dropped);
    }
  }
  if (dropped.length > 0 && s.onDropped) {
    try {
      s.onDropped(dropped);
    } catch (err) {
      console.error('tabmesh store: onDropped threw:', err);
    }
  }
}

function drop(s: StoreState, e: Entry, dropped: ObjectId[]): void {
  s.entries.delete(e.id);
  s.lru.unlink(e);
  s.oversized.delete(e.id);
  if (e.bytes) s.memBytes -= e.size;
  e.bytes = undefined;
  s.dropCount++;
  dropped.push(e.id);
}

/** The tier no longer has an object we only had there. */
export function lost(s: StoreState, e: Entry): void {
  s.entries.delete(e.id);
  s.lru.unlink(e);
  if (e.inTier) s.tierBytes -= e.size;
  e.inTier = false;
  s.dropCount++;
  console.warn(`tabmesh store: ${e.id} is missing from the tier`);
  if (s.onDropped) {
    try {
      s.onDropped([e.id]);
    } catch (err) {
      console.error('tabmesh store: onDropped threw:', err);
    }
  }
}

/** Start writing `e` (out of the LRU already) to the tier. */
export function spill(s: StoreState, e: Entry): void {
  const tier = s.tier!;
  const bytes = e.bytes!;
  e.spilling = true;
  s.inflightBytes += e.size;
  s.tierOps.run(
    e.id,
    async () => {
      await tier.put(e.id, bytes);
      if (s.entries.get(e.id) !== e || !e.spilling) return; // deleted: its tier delete is chained after us
      e.spilling = false;
      s.inflightBytes -= e.size;
      e.leaves ??= knownLeavesOf(bytes);
      e.bytes = undefined;
      s.memBytes -= e.size;
      e.inTier = true;
      s.tierBytes += e.size;
      s.spillCount++;
    },
    (err) => {
      console.warn(`tabmesh store: spilling ${e.id} failed, keeping it in memory:`, err);
      if (s.entries.get(e.id) !== e || !e.spilling) return;
      // Never lose a primary: back into memory (as most recent, so the next
      // pass tries older objects first).
      e.spilling = false;
      s.inflightBytes -= e.size;
      s.lru.link(e);
    },
  );
}
