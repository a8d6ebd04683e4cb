// A driver's get of several objects (shared/api/driver-fetch.ts): one promise for the whole get, values taken in
// the readiness callbacks (issue 14, session 21). Scenarios against a real ObjectClient whose `send` is recorded
// and a fetcher that serves stored values.
import { describe, expect, it } from 'vitest';
import { fetchObjects, type FetchSource } from '../../shared/api/driver-fetch.js';
import { HeldObjects } from '../../shared/api/held-objects.js';
import { ObjectClient, type ReadyInfo } from '../../shared/api/object-client.js';
import type { Failure } from '../../shared/errors.js';
import { childTaskId, newJobId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';
import type { Msg } from '../../shared/protocol/messages.js';
import type { ObjectFetcher } from '../../shared/transfer/fetcher.js';

const root = rootTaskId(newJobId());
let next = 0;
const newId = (): ObjectId => returnObjectId(childTaskId(root, next++), 0);
const bytes = (...b: number[]) => new Uint8Array(b);
const failure: Failure = { code: 'TASK_ERROR', name: 'Error', message: 'boom', stack: '', functionName: 'f', taskId: 't' };

function source() {
  const sent: Msg[] = [];
  const fetched: ObjectId[] = [];
  const stored = new Map<ObjectId, Uint8Array>();
  // A driver's table: it holds a handle on each object it reads (its records outlive a readiness).
  const held = new HeldObjects();
  const objects = new ObjectClient(
    (m) => sent.push(m),
    () => 0,
    held,
  );
  const fetcher = {
    fetch: (id: ObjectId) => {
      fetched.push(id);
      const b = stored.get(id);
      return b ? Promise.resolve({ bytes: b }) : Promise.reject(new Error(`no ${id}`));
    },
  } as unknown as ObjectFetcher;
  const d: FetchSource = { ownLarge: new Map(), objects, fetcher };
  const ready = (id: ObjectId, info: Omit<ReadyInfo, 'size'> & { size?: number }) =>
    objects.onReady({ t: 'ready', id, size: info.size ?? info.v?.byteLength ?? 0, v: info.v, hash: info.hash, failure: info.failure } as never);
  const subscribed = () => sent.flatMap((m) => (m.t === 'subscribe' ? m.ids : []));
  const id = (): ObjectId => {
    const x = newId();
    held.hold(x);
    return x;
  };
  return { d, objects, sent, fetched, stored, ready, subscribed, id };
}

describe("a driver's get of several objects", () => {
  it('values in order, whichever order they become ready in; every id subscribed once', async () => {
    const s = source();
    const ids = [s.id(), s.id(), s.id()];
    const got = fetchObjects(s.d, ids);
    expect(s.subscribed()).toEqual(ids);
    s.ready(ids[2], { v: bytes(3) });
    s.ready(ids[0], { v: bytes(1) });
    s.ready(ids[1], { v: bytes(2) });
    expect((await got).map((f) => f.bytes)).toEqual([bytes(1), bytes(2), bytes(3)]);
  });

  it('the first failure alone, as soon as it is known, without waiting for the rest', async () => {
    const s = source();
    const ids = [s.id(), s.id(), s.id()];
    const got = fetchObjects(s.d, ids);
    s.ready(ids[0], { v: bytes(1) });
    s.ready(ids[2], { failure });
    const out = await got;
    expect(out).toHaveLength(1);
    expect(out[0].failure?.message).toBe('boom');
  });

  it('a stored value (no inline bytes) is fetched from its holder; an own large put is read from memory', async () => {
    const s = source();
    const [stored, inline, own] = [s.id(), s.id(), s.id()];
    s.stored.set(stored, bytes(9, 9));
    s.d.ownLarge.set(own, bytes(7));
    const got = fetchObjects(s.d, [stored, inline, own]);
    expect(s.subscribed()).toEqual([stored, inline]);
    s.ready(stored, { size: 2, hash: 'ab' });
    s.ready(inline, { v: bytes(5) });
    expect((await got).map((f) => f.bytes)).toEqual([bytes(9, 9), bytes(5), bytes(7)]);
    expect(s.fetched).toEqual([stored]);
  });

  it('objects known already are taken at once, with no subscription', async () => {
    const s = source();
    const a = s.id();
    const b = s.id();
    s.objects.setReady(a, { v: bytes(1), size: 1 });
    s.objects.setReady(b, { v: bytes(2), size: 1 });
    expect((await fetchObjects(s.d, [a, b])).map((f) => f.bytes)).toEqual([bytes(1), bytes(2)]);
    expect(s.sent).toEqual([]);
  });

  it('an empty get answers an empty list', async () => {
    expect(await fetchObjects(source().d, [])).toEqual([]);
  });

  it('a closed client fails the get of an object not known, and still answers one that is', async () => {
    const s = source();
    const known = s.id();
    s.objects.setReady(known, { v: bytes(1), size: 1 });
    s.objects.close(new Error('closed'));
    expect((await fetchObjects(s.d, [known])).map((f) => f.bytes)).toEqual([bytes(1)]);
    await expect(fetchObjects(s.d, [known, s.id()])).rejects.toThrow('closed');
  });

  it('a fetch that keeps failing rejects the get', async () => {
    const s = source();
    const id = s.id();
    const got = fetchObjects(s.d, [id], 60_000);
    s.ready(id, { size: 4, hash: 'cd' });
    // No holder serves it: fetchOne asks again with backoff; the get's timeout ends the wait.
    const fast = fetchObjects(s.d, [id], 50);
    await expect(fast).rejects.toThrow();
    void got.catch(() => {});
  });
});
