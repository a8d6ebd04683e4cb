// The coordinator's relay (coordinator/objects/relay.ts) hashes what a holder serves: a node serving wrong bytes is
// reported (its claim dropped, its trust lowered), and so is a driver serving an artifact other jobs read; a driver's
// own put is forwarded unhashed (session 37: every reader checks the same hash, which that driver gave itself).
// Fakes of the directory and the sessions: only what the relay reads of them.
import { describe, expect, it } from 'vitest';
import { Relay } from '../../coordinator/objects/relay.js';
import type { Gcs } from '../../coordinator/gcs/gcs.js';
import type { ObjectDirectory } from '../../coordinator/objects/directory.js';
import type { Session } from '../../coordinator/session.js';
import { artifactObjectId, newJobId, putObjectId, returnObjectId, rootTaskId, type ObjectId } from '../../shared/ids.js';
import { contentHash } from '../../shared/hash.js';
import type { Msg } from '../../shared/protocol/messages.js';

const right = new Uint8Array(300_000).fill(5);
const wrong = new Uint8Array(300_000).fill(6);

/** A session of `role` that records what it is sent. */
function session(role: 'driver' | 'node'): Session & { got: Msg[] } {
  const got: Msg[] = [];
  return { role, got, send: (m: Msg) => void got.push(m) } as unknown as Session & { got: Msg[] };
}

/** `holder` serves `id` (listed with the hash of `right`) to a reader, sending `bytes`: the offences reported. */
function serve(id: ObjectId, holder: Session, bytes: Uint8Array): string[] {
  const o = { id, state: 'ready', hash: contentHash(right), locations: new Set([holder]) };
  const dir = { get: () => o, holder: () => holder } as unknown as ObjectDirectory;
  const relay = new Relay({ stats: { bytesRelayed: 0 } } as unknown as Gcs, dir);
  const bad: string[] = [];
  relay.onBadHolder = (_h, _id, why) => void bad.push(why);
  const reader = session('node');
  relay.fetch(reader, { t: 'fetch', id, x: 7 });
  const serveMsg = (holder as unknown as { got: Msg[] }).got.find((m) => m.t === 'serve');
  if (serveMsg?.t !== 'serve') throw new Error('the holder was not asked to serve');
  const half = bytes.byteLength / 2;
  for (const [o, d] of [
    [0, bytes.subarray(0, half)],
    [half, bytes.subarray(half)],
  ] as const)
    expect(relay.chunk(holder, { t: 'chunk', x: serveMsg.x, o, n: bytes.byteLength, d })).toBeNull();
  // Forwarded as they came, on the reader's transfer number.
  expect(reader.got.map((m) => (m.t === 'chunk' ? [m.x, m.o, m.d.byteLength] : m.t))).toEqual([
    [7, 0, half],
    [7, half, half],
  ]);
  return bad;
}

describe("the relay's hash check", () => {
  const job = newJobId();
  const put = putObjectId(rootTaskId(job), 1);
  const result = returnObjectId(rootTaskId(job), 0);

  it('reports a node that serves wrong bytes, and not one that serves the right ones', () => {
    expect(serve(result, session('node'), wrong)).toEqual([expect.stringMatching(/wrong hash/)]);
    expect(serve(result, session('node'), right)).toEqual([]);
  });

  it("reports a driver serving an artifact wrong; forwards a driver's own put unhashed", () => {
    expect(serve(artifactObjectId(contentHash(right)), session('driver'), wrong)).toEqual([expect.stringMatching(/wrong hash/)]);
    // Its readers check the hash it gave (shared/transfer/fetcher.ts): nothing to report here.
    expect(serve(put, session('driver'), wrong)).toEqual([]);
  });
});
