// A node store's lower tier (IndexedDB in browsers, a folder on edge nodes)
// and the order of operations on it: for one id they are chained (put, then
// delete, then a later put...), so a delete issued during a spill runs after
// that write and can never be overtaken by it.
import type { ObjectId } from '../ids.js';

export interface SpillTier {
  put(id: ObjectId, bytes: Uint8Array): Promise<void>;
  get(id: ObjectId): Promise<Uint8Array | undefined>;
  /**
   * Bytes [offset, offset + length) of a stored object (fewer past its end),
   * undefined when it is not stored: a holder streams a spilled object to a
   * reader without loading it whole (issue 17). Tiers without it are read whole.
   */
  read?(id: ObjectId, offset: number, length: number): Promise<Uint8Array | undefined>;
  delete(id: ObjectId): Promise<void>;
  /** What survived a restart. */
  list(): Promise<ObjectId[]>;
}

/** Tier operations, chained per id. */
export class TierOps {
  /** Last tier operation per id (never rejects). */
  private readonly last = new Map<ObjectId, Promise<void>>();

  /** Run `op` after every earlier tier operation on `id`. */
  run(id: ObjectId, op: () => Promise<void>, onError: (err: unknown) => void): void {
    const prev = this.last.get(id) ?? Promise.resolve();
    const next = prev.then(op).catch(onError);
    this.last.set(id, next);
    void next.then(() => {
      if (this.last.get(id) === next) this.last.delete(id);
    });
  }

  /** Resolves once every operation started so far has settled. */
  async idle(): Promise<void> {
    while (this.last.size > 0) {
      await Promise.all([...this.last.values()]);
    }
  }
}
