// A holder serving through the coordinator's relay (issue 17): an object
// spilled to the holder's tier streams a window at a time, as it does over a
// peer link, and is never read whole; the relay's reader gets it byte for byte.
import { describe, expect, it } from 'vitest';
import { ObjectClient } from '../../shared/api/object-client.js';
import { contentHash } from '../../shared/hash.js';
import type { ObjectId } from '../../shared/ids.js';
import { ObjectStore } from '../../shared/node/store.js';
import type { Msg, MsgOf } from '../../shared/protocol/messages.js';
import { STREAM_WINDOW } from '../../shared/transfer/source.js';
import { ReadCountingTier } from '../helpers/read-counting-tier.js';

const OBJ = 'ab'.repeat(20) as ObjectId;
const MB = 1 << 20;

/** A holder's relay side whose socket queue the test controls, and a reader's side that gets what it sends. */
function relay() {
  const sent: Msg[] = [];
  const buffered = { n: 0 };
  const holder = new ObjectClient(
    (m) => sent.push(m),
    () => buffered.n,
  );
  const reader = new ObjectClient(
    () => {},
    () => 0,
  );
  return { sent, buffered, holder, reader };
}

describe('serving through the relay', () => {
  it('a spilled object streams from the tier a window at a time, with one window read ahead: never read whole', async () => {
    const bytes = new Uint8Array(5 * MB + 777).map((_, i) => (i * 7) >>> 2);
    const tier = new ReadCountingTier();
    const store = new ObjectStore({ memoryBytes: MB, tier });
    store.put(OBJ, bytes, { hash: contentHash(bytes), primary: true }); // larger than the budget: to the tier
    await store.idle();
    expect(store.memoryBytes).toBe(0);

    const { sent, buffered, holder, reader } = relay();
    const got = reader.fetchBytes(OBJ); // transfer 1 on the reader's side, as the coordinator numbers it here
    // The socket is backed up: the holder sends nothing and reads no more than a window and its read-ahead.
    buffered.n = 64 * MB;
    const serving = holder.serve(1, await store.source(OBJ));
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
    expect(sent.length).toBeLessThanOrEqual(STREAM_WINDOW / (256 * 1024));
    expect(tier.largestRead).toBeLessThanOrEqual(STREAM_WINDOW);
    buffered.n = 0;
    await serving;
    for (const m of sent) reader.onChunk(m as MsgOf<'chunk'>);
    expect(Buffer.compare(await got, bytes)).toBe(0);
    expect(tier.wholeReads).toBe(0);
    expect(tier.largestRead).toBe(STREAM_WINDOW);
    expect(holder.bytesOut).toBe(bytes.byteLength);
    // Still spilled: serving did not take it back into memory.
    expect(store.memoryBytes).toBe(0);
  });

  it('an object lost from the tier mid-stream fails the transfer with its reason', async () => {
    const bytes = new Uint8Array(3 * MB).fill(4);
    const tier = new ReadCountingTier();
    const store = new ObjectStore({ memoryBytes: 0, tier });
    store.put(OBJ, bytes, { hash: contentHash(bytes), primary: true });
    await store.idle();
    const { sent, holder } = relay();
    const src = await store.source(OBJ);
    tier.objects.delete(OBJ); // the file vanished under the holder
    await holder.serve(7, src);
    const fail = sent.find((m) => m.t === 'xferFail') as MsgOf<'xferFail'> | undefined;
    expect(fail?.x).toBe(7);
    expect(fail?.reason).toMatch(/cannot read it: .*no longer in the tier/);
    expect(tier.wholeReads).toBe(0);
  });

  it('an object in memory is sent in place, and one not held is refused', async () => {
    const bytes = new Uint8Array(600 * 1024).map((_, i) => i & 255);
    const { sent, holder, reader } = relay();
    const got = reader.fetchBytes(OBJ);
    await holder.serve(1, bytes);
    for (const m of sent) reader.onChunk(m as MsgOf<'chunk'>);
    expect(Buffer.compare(await got, bytes)).toBe(0);
    sent.length = 0;
    await holder.serve(2, undefined);
    expect(sent).toEqual([{ t: 'xferFail', x: 2, reason: 'object not held here' }]);
  });
});
