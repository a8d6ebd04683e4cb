// A driver's handles (shared/api/handles.ts): freeing a job's refs together
// sends releases of RELEASE_IDS ids, not one message per id (issue 14: the
// coordinator handled 100,000 one-id releases at the end of a 100,000-task
// job). A fake core (one box): it records what the table asks of the GCS.
import { describe, expect, it } from 'vitest';
import { HandleTable, RELEASE_IDS } from '../../shared/api/handles.js';
import { HeldObjects } from '../../shared/api/held-objects.js';
import type { MeshCore } from '../../shared/api/core.js';
import { childTaskId, returnObjectId, rootTaskId, newJobId, type ObjectId } from '../../shared/ids.js';
import type { ObjectRef } from '../../shared/api/ref.js';

function table() {
  const released: ObjectId[][] = [];
  const borrowed: ObjectId[][] = [];
  let closed = false;
  const core = {
    held: new HeldObjects(),
    release: (ids: ObjectId[]) => released.push(ids),
    borrow: (ids: ObjectId[]) => borrowed.push(ids),
  } as unknown as MeshCore;
  return { t: new HandleTable(core, () => closed), released, borrowed, close: () => (closed = true) };
}

const root = rootTaskId(newJobId());
const ids = (n: number) => Array.from({ length: n }, (_, i) => returnObjectId(childTaskId(root, i), 0));

describe("a driver's handles", () => {
  it('300 refs freed together: 3 releases in order (128, 128, 44 ids), each id once', () => {
    const { t, released } = table();
    const refs = ids(300).map((id) => t.track(id, true));
    t.free(refs);
    expect(released.map((r) => r.length)).toEqual([RELEASE_IDS, RELEASE_IDS, 300 - 2 * RELEASE_IDS]);
    expect(released.flat()).toEqual(ids(300));
    // Freed already: nothing more.
    t.free(refs);
    expect(released).toHaveLength(3);
  });

  it('an id with a second handle still held is not released until that one goes too', () => {
    const { t, released } = table();
    const [a, b] = ids(2);
    const first: ObjectRef[] = [t.track(a, true), t.track(b, true)];
    const again = t.track(a, true);
    t.free(first);
    expect(released).toEqual([[b]]);
    t.free([again]);
    expect(released).toEqual([[b], [a]]);
  });

  it('after the mesh closed nothing is released (the job end frees it all)', () => {
    const { t, released, close } = table();
    const refs = ids(5).map((id) => t.track(id, true));
    close();
    t.free(refs);
    expect(released).toEqual([]);
  });
});
