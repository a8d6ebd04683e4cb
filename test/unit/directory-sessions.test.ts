// A closing session costs what it held (issue 14): the object directory keeps
// the objects each session holds a copy of or waits on, so dropSession visits
// those, never every object in the GCS; what it answers and leaves behind is
// what the full walk gave.
// White-box: a real Coordinator (in-memory GCS), hand-made sessions.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { fakeSession } from '../helpers/fake-session.js';
import { subscribersOf } from '../../coordinator/objects/subscriptions.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { newJobId, returnObjectId, rootTaskId, childTaskId, type ObjectId } from '../../shared/ids.js';

let c: Coordinator | null = null;
afterEach(() => {
  c?.close();
  c = null;
});

const session = fakeSession;

function world() {
  const co = (c = new Coordinator({ storage: new MemoryStorage() }));
  const job = newJobId();
  const root = rootTaskId(job);
  let seq = 0;
  const id = (): ObjectId => returnObjectId(childTaskId(root, seq++), 0);
  return { c: co, job, id };
}

/** Counts walks over the whole object table. */
function watchWalks(objects: Map<unknown, unknown>): () => number {
  const spies = [vi.spyOn(objects, 'values'), vi.spyOn(objects, 'entries'), vi.spyOn(objects, 'forEach'), vi.spyOn(objects, Symbol.iterator)];
  return () => spies.reduce((a, s) => a + s.mock.calls.length, 0);
}

describe('ObjectDirectory.dropSession', () => {
  it('visits only what the closing session held or waited on, and answers the objects left with no copy', () => {
    const w = world();
    const dir = w.c.dir;
    const a = session('a');
    const b = session('b');
    const driver = session('driver');
    // 5,000 objects elsewhere: a close must not walk them.
    for (let i = 0; i < 5000; i++) dir.setReady(dir.create(w.id(), w.job, 1), { size: 1000, hash: 'h', location: b, contains: [] });
    const onlyOnA = dir.create(w.id(), w.job, 1);
    dir.setReady(onlyOnA, { size: 1000, hash: 'h1', location: a, contains: [] });
    const onBoth = dir.create(w.id(), w.job, 1);
    dir.setReady(onBoth, { size: 1000, hash: 'h2', location: a, contains: [] });
    dir.addCopy(onBoth, b);
    const inline = dir.create(w.id(), w.job, 1);
    dir.setReady(inline, { v: new Uint8Array([1]), size: 1, location: a, contains: [] });
    const dropped = dir.create(w.id(), w.job, 1);
    dir.setReady(dropped, { size: 1000, hash: 'h3', location: a, contains: [] });
    dir.addCopy(dropped, b);
    dir.dropCopy(dropped.id, a, 'evicted');
    const pending = dir.create(w.id(), w.job, 1);
    dir.subscribe(a, [pending.id]);
    dir.subscribe(driver, [pending.id]);
    expect(dir.copiesOf(a).size).toBe(3);

    const walks = watchWalks(w.c.gcs.objects as Map<unknown, unknown>);
    const orphaned = dir.dropSession(a);
    expect(walks()).toBe(0);
    expect(orphaned).toEqual([onlyOnA]);
    expect([...onBoth.locations]).toEqual([b]);
    expect(inline.locations.size).toBe(0);
    expect([...dropped.locations]).toEqual([b]);
    expect(subscribersOf(pending)).toEqual([driver]);
    expect(dir.copiesOf(a).size).toBe(0);
    expect(dir.copiesOf(b).size).toBe(5002);

    // The other waiter still hears when the object is ready; the closed one does not.
    dir.setReady(pending, { v: new Uint8Array([2]), size: 1, contains: [] });
    expect(driver.sent.filter((m) => m.t === 'ready')).toHaveLength(1);
    expect(a.sent.filter((m) => m.t === 'ready')).toHaveLength(0);
    expect(pending.subscribers).toBeNull();
  });

  it('a freed object leaves its holders’ index: a long-lived node’s index is what it holds now', () => {
    const w = world();
    const dir = w.c.dir;
    const n = session('node');
    const ids: ObjectId[] = [];
    for (let i = 0; i < 100; i++) {
      const o = dir.create(w.id(), w.job, 1);
      dir.setReady(o, { size: 10, hash: 'h', location: n, contains: [] });
      ids.push(o.id);
    }
    for (const id of ids.slice(0, 60)) dir.decRef(id);
    expect(dir.copiesOf(n).size).toBe(40);
    // A waiter on an object freed before it was ready is told, and forgotten.
    const waited = dir.create(w.id(), w.job, 1);
    dir.subscribe(n, [waited.id]);
    dir.setFailed(waited, { code: 'TASK_ERROR', name: 'Error', message: 'x', stack: '', functionName: '', taskId: waited.id });
    dir.decRef(waited.id);
    expect(dir.dropSession(n)).toHaveLength(40);
    expect(n.sent.filter((m) => m.t === 'free')).toHaveLength(60);
  });
});

describe("an object's subscribers (one kept as it is, several in a set: issue 14, session 21)", () => {
  const readies = (s: ReturnType<typeof session>) => s.sent.filter((m) => m.t === 'ready');

  it('one subscriber, the same one again, then a second and a third: each told once when it is ready', () => {
    const w = world();
    const dir = w.c.dir;
    const [a, b, d] = [session('a'), session('b'), session('d')];
    const o = dir.create(w.id(), w.job, 1);
    dir.subscribe(a, [o.id]);
    dir.subscribe(a, [o.id]);
    expect(subscribersOf(o)).toEqual([a]);
    dir.subscribe(b, [o.id]);
    dir.subscribe(d, [o.id]);
    dir.subscribe(b, [o.id]);
    expect(subscribersOf(o)).toEqual([a, b, d]);
    dir.setReady(o, { v: new Uint8Array([7]), size: 1, contains: [] });
    expect([readies(a).length, readies(b).length, readies(d).length]).toEqual([1, 1, 1]);
    expect(o.subscribers).toBeNull();
  });

  it('a lone subscriber that closes leaves none; of two, the one left is still told', () => {
    const w = world();
    const dir = w.c.dir;
    const [a, b] = [session('a'), session('b')];
    const lone = dir.create(w.id(), w.job, 1);
    dir.subscribe(a, [lone.id]);
    const shared = dir.create(w.id(), w.job, 1);
    dir.subscribe(a, [shared.id]);
    dir.subscribe(b, [shared.id]);
    dir.dropSession(a);
    expect(lone.subscribers).toBeNull();
    expect(subscribersOf(shared)).toEqual([b]);
    dir.setReady(lone, { v: new Uint8Array([1]), size: 1, contains: [] });
    dir.setReady(shared, { v: new Uint8Array([2]), size: 1, contains: [] });
    expect(readies(a)).toHaveLength(0);
    expect(readies(b).map((m) => m.t === 'ready' && m.id)).toEqual([shared.id]);
  });

  it('a failed object tells its lone subscriber, once', () => {
    const w = world();
    const dir = w.c.dir;
    const a = session('a');
    const o = dir.create(w.id(), w.job, 1);
    dir.subscribe(a, [o.id]);
    dir.setFailed(o, { code: 'TASK_ERROR', name: 'Error', message: 'x', stack: '', functionName: 'f', taskId: 't' });
    expect(readies(a)).toHaveLength(1);
    expect(o.subscribers).toBeNull();
  });
});
