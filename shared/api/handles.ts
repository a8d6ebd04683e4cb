// A driver's handles on objects: counted per id, released to the GCS when the
// last one is garbage-collected or freed (tasks release theirs at task end, so
// their cores track none).
import type { ObjectId } from '../ids.js';
import type { MeshCore } from './core.js';
import { ObjectRef } from './ref.js';

interface RefEntry {
  count: number;
}

export class HandleTable {
  private readonly handles = new Map<ObjectId, RefEntry>();
  private readonly finalizer: FinalizationRegistry<ObjectId> | null;

  constructor(
    private readonly core: MeshCore,
    /** Once the mesh is closed, dropped handles are not reported (the job's end frees them). */
    private readonly closed: () => boolean,
  ) {
    this.finalizer = core.tracksHandles ? new FinalizationRegistry((id) => this.drop(id)) : null;
  }

  /** Counts a handle; the first one of an id someone else made is borrowed from the GCS. */
  track(id: ObjectId, created: boolean): ObjectRef {
    const ref = new ObjectRef(id);
    if (!this.finalizer) return ref;
    const e = this.handles.get(id);
    if (e) e.count++;
    else {
      this.handles.set(id, { count: 1 });
      if (!created) this.core.borrow([id]);
    }
    this.finalizer.register(ref, id, ref);
    return ref;
  }

  /** Gives up these handles now instead of when they are garbage-collected. */
  free(refs: readonly ObjectRef[]): void {
    for (const r of refs) {
      if (this.finalizer?.unregister(r)) this.drop(r.id);
    }
  }

  private drop(id: ObjectId): void {
    const e = this.handles.get(id);
    if (!e) return;
    if (--e.count > 0) return;
    this.handles.delete(id);
    if (!this.closed()) this.core.release([id]);
  }
}
