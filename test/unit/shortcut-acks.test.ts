// A shortcut's `ready` is held back, not dropped (issue 14, session 15;
// coordinator/objects/shortcut-acks.ts): a driver that says `took` is owed
// nothing, whether its `took` comes before or after the node's `done`; one that
// says nothing is subscribed again a sweep period later, and gets the `ready`.
// White-box: a real Coordinator (in-memory GCS), hand-made sessions, fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Coordinator } from '../../coordinator/coordinator.js';
import { MemoryStorage } from '../../coordinator/gcs/memory-storage.js';
import { ACK_WAIT_MS, SWEEP_IDS } from '../../coordinator/objects/shortcut-acks.js';
import { fakeSession } from '../helpers/fake-session.js';
import { childTaskId, newJobId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';

let c: Coordinator | null = null;
beforeEach(() => void vi.useFakeTimers());
afterEach(() => {
  c?.close();
  c = null;
  vi.useRealTimers();
});

function world() {
  const co = (c = new Coordinator({ storage: new MemoryStorage() }));
  const job = newJobId();
  let seq = 0;
  const id = (): ObjectId => returnObjectId(childTaskId(rootTaskId(job), seq++), 0);
  const dir = co.dir;
  const driver = fakeSession('driver');
  /** A pending object the driver waits on; `done` makes it ready as a node's `done` with `sc` would. */
  const awaited = () => {
    const o = dir.create(id(), job, 1);
    dir.subscribe(driver, [o.id]);
    return { o, done: () => (dir.shortcut(o.id, driver), dir.setReady(o, { v: new Uint8Array([7]), size: 1, contains: [] })) };
  };
  const readies = () => driver.sent.filter((m) => m.t === 'ready').map((m) => (m as { id: ObjectId }).id);
  return { dir, driver, awaited, readies };
}

describe('readies held back for result shortcuts', () => {
  it('a took after the done, or before it, owes nothing; a driver that says nothing gets its ready after one to two sweep periods', () => {
    const w = world();
    const after = w.awaited();
    const before = w.awaited();
    const silent = w.awaited();
    after.done();
    w.dir.took(w.driver, [before.o.id]); // the driver's frame came first
    before.done();
    silent.done();
    w.dir.took(w.driver, [after.o.id]);
    expect(w.readies()).toEqual([]);
    vi.advanceTimersByTime(ACK_WAIT_MS);
    expect(w.readies()).toEqual([]); // due at the next sweep, not this one
    vi.advanceTimersByTime(ACK_WAIT_MS);
    expect(w.readies()).toEqual([silent.o.id]);
    vi.advanceTimersByTime(3 * ACK_WAIT_MS);
    expect(w.readies()).toEqual([silent.o.id]); // once
  });

  it('a closed driver is owed nothing; a freed object is answered lost (the driver ignores what it released)', () => {
    const w = world();
    const a = w.awaited();
    a.done();
    (w.driver as { closed: boolean }).closed = true;
    vi.advanceTimersByTime(2 * ACK_WAIT_MS);
    expect(w.driver.sent).toEqual([]);
    const w2 = world();
    const b = w2.awaited();
    b.done();
    w2.dir.free(b.o);
    vi.advanceTimersByTime(2 * ACK_WAIT_MS);
    expect(w2.driver.sent.map((m) => m.t === 'ready' && m.failure?.code)).toEqual(['OBJECT_LOST']);
  });

  it('a driver that lags owes thousands at once: they are subscribed again SWEEP_IDS a turn, each once; a took still due owes nothing', () => {
    const w = world();
    const n = 3 * SWEEP_IDS + 10;
    const owed = Array.from({ length: n }, () => w.awaited());
    for (const a of owed) a.done();
    vi.advanceTimersByTime(2 * ACK_WAIT_MS - 1);
    expect(w.readies()).toEqual([]);
    vi.advanceTimersToNextTimer(); // the sweep alone: its first turn
    expect(w.readies()).toHaveLength(SWEEP_IDS);
    // The driver's took for one not subscribed yet: it is owed nothing.
    const late = owed[n - 1].o.id;
    w.dir.took(w.driver, [late]);
    vi.advanceTimersByTime(10);
    const got = w.readies();
    expect(got).toHaveLength(n - 1);
    expect(new Set(got).size).toBe(n - 1);
    expect(got).not.toContain(late);
    vi.advanceTimersByTime(5 * ACK_WAIT_MS);
    expect(w.readies()).toHaveLength(n - 1);
  });
});
