// A driver's records of what it holds (shared/api/held-objects.ts, issue 14,
// session 13): one record an object for its handles, the submission that
// makes it, a small put's value and its readiness. Scenarios through the
// pieces that share the records: the handle table, the object client and the
// resume state, with a fake core that records what would go to the GCS.
import { describe, expect, it } from 'vitest';
import { HandleTable } from '../../shared/api/handles.js';
import { HeldObjects } from '../../shared/api/held-objects.js';
import { ObjectClient } from '../../shared/api/object-client.js';
import { ResumeState } from '../../shared/api/driver-resume.js';
import type { MeshCore } from '../../shared/api/core.js';
import type { Msg, TaskSpec } from '../../shared/protocol/messages.js';
import { childTaskId, newJobId, putObjectId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';

const job = newJobId();
const root = rootTaskId(job);
let next = 0;

function spec(numReturns: number, actor?: TaskSpec['actor']): TaskSpec {
  const taskId = childTaskId(root, next++);
  return {
    taskId,
    jobId: job,
    parentId: root,
    fnId: '00'.repeat(16) as TaskSpec['fnId'],
    name: 'f',
    args: [],
    nested: [],
    numReturns,
    resources: { cpu: 1 },
    maxRetries: 3,
    attempt: 0,
    timeoutMs: 0,
    scheduling: undefined,
    actor,
  } as TaskSpec;
}

/** A driver's pieces on one table, as DriverCore wires them; `sent` is what would go to the coordinator. */
function driver() {
  const held = new HeldObjects();
  const sent: Msg[] = [];
  const released: ObjectId[][] = [];
  const core = {
    held,
    borrow: (ids: ObjectId[]) => {
      held.borrowed(ids);
      sent.push({ t: 'borrow', ids });
    },
    release: (ids: ObjectId[]) => {
      released.push(ids);
      for (const id of ids) held.released(id);
    },
  } as unknown as MeshCore;
  const handles = new HandleTable(core, () => false);
  const objects = new ObjectClient(
    (m) => sent.push(m),
    () => 0,
    held,
  );
  const submit = (s: TaskSpec) => {
    held.submitted(s);
    return Array.from({ length: s.numReturns }, (_, i) => handles.track(returnObjectId(s.taskId, i), true));
  };
  const replay = () => {
    const out: Msg[] = [];
    new ResumeState(held).replay((m) => out.push(m), objects, new Map());
    return out;
  };
  return { held, sent, released, handles, objects, submit, replay };
}

const ready = (id: ObjectId): Msg => ({ t: 'ready', id, size: 1, v: new Uint8Array([0xc0]) });

describe("a driver's records of what it holds", () => {
  it('a task, its get and its free: one record, and nothing left after', async () => {
    const d = driver();
    const [ref] = d.submit(spec(1));
    expect(d.held.size).toBe(1);
    const got = d.objects.whenReady(ref.id);
    expect(d.held.size).toBe(1);
    expect(d.sent).toEqual([{ t: 'subscribe', ids: [ref.id] }]);
    d.objects.onReady(ready(ref.id) as Extract<Msg, { t: 'ready' }>);
    expect((await got).size).toBe(1);
    d.handles.free([ref]);
    expect(d.released).toEqual([[ref.id]]);
    expect(d.held.size).toBe(0);
  });

  it('a resume sends again the tasks with an output still held, in order, and names the held ids', () => {
    const d = driver();
    const a = spec(2);
    const b = spec(1);
    const c = spec(1);
    const [a0, a1] = d.submit(a);
    const [b0] = d.submit(b);
    const [c0] = d.submit(c);
    d.handles.free([a0, b0]);
    const out = d.replay();
    // a keeps one output (a1), so it goes again; b has none left; c has its one.
    expect(out.filter((m) => m.t === 'submit').map((m) => (m as Extract<Msg, { t: 'submit' }>).spec.taskId)).toEqual([a.taskId, c.taskId]);
    expect(d.held.heldIds()).toEqual([a1.id, c0.id]);
    d.handles.free([a1]);
    expect(d.replay().filter((m) => m.t === 'submit')).toHaveLength(1);
  });

  it('a task without outputs is sent again after those with outputs; an actor call whose outputs arrived is not', () => {
    const d = driver();
    const none = spec(0);
    const create = spec(1, { kind: 'create', id: childTaskId(root, 9999) } as TaskSpec['actor']);
    const [ref] = d.submit(create);
    d.submit(none);
    const plain = spec(1);
    d.submit(plain);
    let submits = d.replay().filter((m): m is Extract<Msg, { t: 'submit' }> => m.t === 'submit');
    expect(submits.map((m) => m.spec.taskId)).toEqual([create.taskId, plain.taskId, none.taskId]);
    d.objects.onReady(ready(ref.id) as Extract<Msg, { t: 'ready' }>);
    d.objects.whenReady(ref.id); // known now: no subscribe, no replay of the constructor
    submits = d.replay().filter((m): m is Extract<Msg, { t: 'submit' }> => m.t === 'submit');
    expect(submits.map((m) => m.spec.taskId)).toEqual([plain.taskId, none.taskId]);
  });

  it('a task without outputs is sent again until the echo of a barrier sent after it; a barrier lost with the connection keeps it', () => {
    const d = driver();
    const a = spec(0);
    const b = spec(0);
    d.submit(a);
    const lost = d.held.unreceivedMark();
    d.objects.onReceipt(() => d.held.received(lost));
    d.objects.failTransfers(new Error('connection lost')); // its echo never comes
    d.submit(b);
    const submits = () =>
      d
        .replay()
        .filter((m): m is Extract<Msg, { t: 'submit' }> => m.t === 'submit')
        .map((m) => m.spec.taskId);
    expect(submits()).toEqual([a.taskId, b.taskId]);
    const mark = d.held.unreceivedMark();
    d.objects.onReceipt(() => d.held.received(mark));
    const sync = d.sent.filter((m): m is Extract<Msg, { t: 'sync' }> => m.t === 'sync').at(-1)!;
    d.objects.onSync(sync.x);
    expect(submits()).toEqual([]);
    expect(d.held.unreceived).toBe(0);
    expect(d.held.unreceivedMark()).toBe(-1);
  });

  it('a small put is put again on a resume while held, and not once released', () => {
    const d = driver();
    const id = putObjectId(root, 0);
    const v = new Uint8Array([1, 2, 3]);
    d.held.put(id, { v, refs: [] });
    const ref = d.handles.track(id, true);
    expect(d.replay().filter((m) => m.t === 'put')).toEqual([{ t: 'put', id, v, size: 3, refs: [] }]);
    d.handles.free([ref]);
    expect(d.replay().filter((m) => m.t === 'put')).toEqual([]);
  });

  it('a ref found inside a value is borrowed once, counted per handle, and named held', () => {
    const d = driver();
    const id = returnObjectId(childTaskId(root, next++), 0);
    const r1 = d.handles.track(id, false);
    const r2 = d.handles.track(id, false);
    expect(d.sent).toEqual([{ t: 'borrow', ids: [id] }]);
    expect(d.held.heldIds()).toEqual([id]);
    d.handles.free([r1]);
    expect(d.released).toEqual([]);
    d.handles.free([r2]);
    expect(d.released).toEqual([[id]]);
    expect(d.held.heldIds()).toEqual([]);
  });

  it('a named actor handle (made elsewhere, not borrowed) is counted but not named in a resume', () => {
    const d = driver();
    const id = returnObjectId(childTaskId(rootTaskId(newJobId()), 0), 0);
    d.handles.track(id, true);
    expect(d.sent).toEqual([]);
    expect(d.held.heldIds()).toEqual([]);
  });

  it('freed while a get waits: the record stays for the waiter, is not named held, and the get still resolves', async () => {
    const d = driver();
    const [ref] = d.submit(spec(1));
    const got = d.objects.whenReady(ref.id);
    d.handles.free([ref]);
    expect(d.held.heldIds()).toEqual([]);
    expect(d.replay().filter((m) => m.t === 'submit')).toEqual([]);
    // Still waiting: subscribed again after a reconnect.
    expect(d.objects.waitingIds()).toEqual([ref.id]);
    d.objects.onReady(ready(ref.id) as Extract<Msg, { t: 'ready' }>);
    expect((await got).size).toBe(1);
    expect(d.objects.waitingIds()).toEqual([]);
    // Delivered, and no handle left: the record goes (it stayed for the driver's life before, session 14).
    expect(d.held.size).toBe(0);
  });

  it('a failed transfer forgets readiness: the next get subscribes again', () => {
    const d = driver();
    const [ref] = d.submit(spec(1));
    void d.objects.whenReady(ref.id);
    d.objects.onReady(ready(ref.id) as Extract<Msg, { t: 'ready' }>);
    expect(d.objects.known(ref.id)).toBeDefined();
    d.objects.invalidate(ref.id);
    expect(d.objects.known(ref.id)).toBeUndefined();
    void d.objects.whenReady(ref.id);
    expect(d.sent.filter((m) => m.t === 'subscribe')).toHaveLength(2);
    // The handle is still counted: the record survived the invalidation.
    d.handles.free([ref]);
    expect(d.released).toEqual([[ref.id]]);
  });
});

describe('the record opened last is kept in hand (issue 14, session 21)', () => {
  it('an object released and held again gets a fresh record, not the one in hand', () => {
    const held = new HeldObjects();
    const id = returnObjectId(childTaskId(root, next++), 0);
    expect(held.hold(id)).toBe(true);
    expect(held.unhold(id)).toBe(true);
    held.released(id);
    expect(held.get(id)).toBeUndefined();
    expect(held.size).toBe(0);
    // The same id again (a copy of the string, as a later message would carry it): counted from 0 in a new record.
    const again = (' ' + id).slice(1) as ObjectId;
    expect(held.hold(again)).toBe(true);
    expect(held.size).toBe(1);
    expect(held.get(id)?.count).toBe(1);
  });

  it('a settled record that goes is not given again: the next open of its id is a new record', () => {
    const held = new HeldObjects();
    const id = returnObjectId(childTaskId(root, next++), 0);
    const r = held.open(id);
    held.settled(id, r);
    expect(held.size).toBe(0);
    const r2 = held.open(id);
    expect(r2).not.toBe(r);
    expect(held.size).toBe(1);
  });

  it("a task's output id asked twice in a row is the same id", () => {
    const t = childTaskId(root, next++);
    expect(returnObjectId(t, 0)).toBe(returnObjectId(t, 0));
    expect(returnObjectId(t, 1)).toBe(t + '00000001');
    expect(returnObjectId(t, 0)).toBe(t + '00000000');
  });
});
