// Where a stream link puts a chunk's data as it arrives (issue 17, zero-copy
// reads of edge fast links): the placement a transfer hands its link, and the
// map of transfers that ends each placement when the transfer goes.
/** Where a stream link copies a chunk's data as it arrives; written only while `live()`. */
export interface Placement {
  dest: Uint8Array;
  live: () => boolean;
  /**
   * Set by a link that reads from its socket straight into `dest` (edge
   * fast links): called as the transfer ends, so that a read already aimed
   * at `dest` goes elsewhere (the memory may be another writer's next).
   */
  onEnd?: () => void;
}

/**
 * Transfers by key, each with the chunk a stream link is putting in place.
 * Deleting one calls its placement's onEnd before anyone else may write where
 * the link was reading to.
 */
export class PlacedMap<K, V extends { placed?: Placement }> extends Map<K, V> {
  override delete(k: K): boolean {
    const v = this.get(k);
    const had = super.delete(k);
    v?.placed?.onEnd?.();
    return had;
  }

  override clear(): void {
    const all = [...this.values()];
    super.clear();
    for (const v of all) v.placed?.onEnd?.();
  }
}
