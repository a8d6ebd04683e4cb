// A task's argument held on another node (issue 17): the node asks the
// coordinator whether it is ready and who holds it in one go (subscribe and
// locate in the same turn), so the fetch starts one coordinator round trip
// sooner; the bytes still come checked against the object's hash.
import { describe, expect, it } from 'vitest';
import { ObjectClient } from '../../shared/api/object-client.js';
import { ObjectFetcher } from '../../shared/transfer/fetcher.js';
import { ObjectAccess } from '../../shared/node/object-access.js';
import { ObjectStore } from '../../shared/node/store.js';
import type { ObjectAccessContext } from '../../shared/node/node-context.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import type { ObjectId } from '../../shared/ids.js';
import { contentHash } from '../../shared/hash.js';
import { FakeNet } from '../helpers/fake-net.js';
import { sampleBytes } from '../helpers/fetcher.js';

const OBJ = 'ab'.repeat(20) as ObjectId;

/** A node's object access over a fake network, its messages to the coordinator kept in `sent`. */
function nodeReader(net: FakeNet) {
  const sent: Msg[] = [];
  const send = (m: Msg) => sent.push(m);
  const objects = new ObjectClient(send, () => 0);
  const fetcher = new ObjectFetcher(objects, net.add('reader', new Map()), send);
  const ctx = {
    send,
    onEvent: () => {},
    log: () => {},
    closed: false,
    inlineMax: 1024,
    inlineBytes: { in: 0, out: 0 },
    store: new ObjectStore({ memoryBytes: 64 << 20 }),
    objects,
    fetcher,
    envCache: null as never,
  } satisfies ObjectAccessContext;
  return { access: new ObjectAccess(ctx), objects, fetcher, sent };
}

const turn = () => new Promise((r) => setImmediate(r));
const kinds = (sent: Msg[]) => sent.map((m) => m.t);
const locates = (sent: Msg[]) => sent.filter((m): m is MsgOf<'locate'> => m.t === 'locate');

describe("a task's stored argument: readiness and holders asked at once", () => {
  it('subscribe and locate go in the same turn; the fetch takes that answer and locates no more', async () => {
    const net = new FakeNet();
    const bytes = sampleBytes(3 << 20);
    const hash = contentHash(bytes);
    net.add('holder', new Map([[OBJ, bytes]]));
    const { access, objects, fetcher, sent } = nodeReader(net);
    const got = access.resolve(OBJ, true);
    await turn();
    expect(kinds(sent).sort()).toEqual(['locate', 'subscribe']);
    // The coordinator answers both, in order.
    objects.onReady({ t: 'ready', id: OBJ, size: bytes.byteLength, hash, v: undefined, failure: undefined });
    fetcher.onLocated({ t: 'located', x: locates(sent)[0].x, peers: ['holder'], partial: [] });
    const f = await got;
    expect(f.bytes && contentHash(f.bytes)).toBe(hash);
    expect(locates(sent)).toHaveLength(1);
    expect(fetcher.fetchedPeer).toBe(1);
    expect(fetcher.locatesAhead).toBe(0);
  });

  it('an answer sent ahead that names no holder (the object was not ready then) is asked again once it is', async () => {
    const net = new FakeNet();
    const bytes = sampleBytes(2 << 20);
    const hash = contentHash(bytes);
    net.add('holder', new Map([[OBJ, bytes]]));
    const { access, objects, fetcher, sent } = nodeReader(net);
    const got = access.resolve(OBJ, true);
    await turn();
    fetcher.onLocated({ t: 'located', x: locates(sent)[0].x, peers: [], partial: [] });
    await turn();
    objects.onReady({ t: 'ready', id: OBJ, size: bytes.byteLength, hash, v: undefined, failure: undefined });
    await turn();
    expect(locates(sent)).toHaveLength(2);
    fetcher.onLocated({ t: 'located', x: locates(sent)[1].x, peers: ['holder'], partial: [] });
    const f = await got;
    expect(f.bytes && contentHash(f.bytes)).toBe(hash);
  });

  it('a value that comes inline needs no fetch: the answer sent ahead is dropped; a read not known stored asks no holders first', async () => {
    const net = new FakeNet();
    const { access, objects, fetcher, sent } = nodeReader(net);
    const got = access.resolve(OBJ, true);
    await turn();
    objects.onReady({ t: 'ready', id: OBJ, size: 3, v: new Uint8Array([1, 2, 3]), failure: undefined });
    expect((await got).bytes).toEqual(new Uint8Array([1, 2, 3]));
    expect(fetcher.locatesAhead).toBe(0);
    sent.length = 0;
    const OTHER = 'cd'.repeat(20) as ObjectId;
    void access.resolve(OTHER);
    await turn();
    expect(kinds(sent)).toEqual(['subscribe']);
  });
});
