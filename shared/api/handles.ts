// A driver's handles on objects: counted per id in the driver's records of
// what it holds (held-objects.ts), released to the GCS when the last one is
// garbage-collected or freed (tasks release theirs at task end, so their cores
// track none).
import type { ObjectId } from '../ids.js';
import type { MeshCore } from './core.js';
import type { HeldObjects } from './held-objects.js';
import { ObjectRef } from './ref.js';

/** Ids per release message when handles are freed together (coordinator/message-slices.ts SPLIT_IDS). */
export const RELEASE_IDS = 128;

export class HandleTable {
  private readonly held: HeldObjects | null;
  private readonly finalizer: FinalizationRegistry<ObjectId> | null;

  constructor(
    private readonly core: MeshCore,
    /** Once the mesh is closed, dropped handles are not reported (the job's end frees them). */
    private readonly closed: () => boolean,
  ) {
    this.held = core.held;
    this.finalizer = this.held ? new FinalizationRegistry((id) => this.drop(id)) : null;
  }

  /** Counts a handle; the first one of an id someone else made is borrowed from the GCS. */
  track(id: ObjectId, created: boolean): ObjectRef {
    const ref = new ObjectRef(id);
    if (!this.held) return ref;
    if (this.held.hold(id) && !created) this.core.borrow([id]);
    this.finalizer!.register(ref, id, ref);
    return ref;
  }

  /** Gives up these handles now instead of when they are garbage-collected: the ids whose last handle went leave in one message (issue 14). */
  free(refs: readonly ObjectRef[]): void {
    const gone: ObjectId[] = [];
    for (const r of refs) {
      if (this.finalizer?.unregister(r) && this.last(r.id)) gone.push(r.id);
    }
    if (this.closed()) return;
    // Releases of 128 ids, not a release per id (100,000 messages at a job's end): the size the coordinator handles between clock readings.
    for (let i = 0; i < gone.length; i += RELEASE_IDS) this.core.release(gone.slice(i, i + RELEASE_IDS));
  }

  private drop(id: ObjectId): void {
    if (this.last(id) && !this.closed()) this.core.release([id]);
  }

  /** One handle of `id` fewer: true when it was the last. */
  private last(id: ObjectId): boolean {
    return this.held!.unhold(id);
  }
}
