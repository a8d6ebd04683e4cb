// Chunk verification on peer links (issue 17), over a fake network: peers'
// real link pools and fetcher, RawPeers that hand messages to each other in
// memory, and one holder whose chunks a test corrupts on the way. The reader
// checks each chunk against leaves checked against the object's hash, keeps
// what checked out, takes the rest from another holder and names the liar.
import { describe, expect, it } from 'vitest';
import { ObjectFetcher } from '../../shared/transfer/fetcher.js';
import { FakeNet, type Tamper } from '../helpers/fake-net.js';
import { peerOnlyReader, sampleBytes as sample } from '../helpers/fetcher.js';
import { contentHash, leafHashes, leavesMatching, setChunkChecker } from '../../shared/hash.js';
import { allocBytes, drainPool, recycle, viewsLent } from '../../shared/bytes.js';
import type { ObjectId } from '../../shared/ids.js';
import { CHUNK_HEADER_BYTES, CHUNK_KIND, readChunkHeader } from '../../shared/transfer/wire.js';
import { CHECK_BYTES } from '../../shared/transfer/link-receive.js';

const OBJ = 'cd'.repeat(20) as ObjectId;
const OBJ2 = 'ce'.repeat(20) as ObjectId;

/** A reader of the object from `holders`; `swarm`: from all of them at once (swarm.ts), else one after another. */
function reader(net: FakeNet, holders: string[], swarm = false): ObjectFetcher {
  return peerOnlyReader(net.add('reader', new Map()), holders, swarm);
}

/** Flips a byte in the `nth` chunk message that `liar` sends. */
function corruptNthChunk(liar: string, nth: number): Tamper {
  let seen = 0;
  return (from, _to, m) => {
    if (from === liar && m[0] === CHUNK_KIND && ++seen === nth) m[m.length - 1] ^= 0x5a;
    return m;
  };
}

describe('chunk verification over a fake network', () => {
  it("a holder's buffer sent from is reused once freed, but not while the channel may still hold its bytes", async () => {
    drainPool();
    const net = new FakeNet();
    const bytes = allocBytes(4 << 20, true);
    bytes.set(sample(bytes.byteLength));
    const hash = contentHash(bytes);
    net.add('holder', new Map([[OBJ, bytes]]));
    net.buffered = 1000; // the channel has not written everything yet
    const f = reader(net, ['holder']);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash });
    expect(contentHash(got.bytes)).toBe(hash);
    expect(viewsLent(bytes)).toBe(1);
    recycle(bytes); // the holder frees the object: its buffer waits for the channel
    expect(allocBytes(4 << 20).buffer).not.toBe(bytes.buffer);
    net.buffered = 0;
    for (let i = 0; i < 100 && viewsLent(bytes) > 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(viewsLent(bytes)).toBe(0);
    expect(allocBytes(4 << 20).buffer).toBe(bytes.buffer);
    drainPool();
  });

  it("a holder's buffer sent from over a channel whose send copies is lent no longer than the transfer, however full the channel", async () => {
    drainPool();
    const net = new FakeNet();
    net.sendCopies = true;
    const bytes = allocBytes(4 << 20, true);
    bytes.set(sample(bytes.byteLength));
    const hash = contentHash(bytes);
    net.add('holder', new Map([[OBJ, bytes]]));
    net.buffered = 1000; // the channel never empties (a busy link)
    const f = reader(net, ['holder'], true); // in runs: each run's end gives its lease back
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash });
    expect(contentHash(got.bytes)).toBe(hash);
    expect(viewsLent(bytes)).toBe(0);
    recycle(bytes);
    expect(allocBytes(4 << 20).buffer).toBe(bytes.buffer);
    drainPool();
  });

  it('a bad chunk from one holder is taken from another: the good prefix is kept, the liar named', async () => {
    const net = new FakeNet();
    const bytes = sample(20 * 65536 + 123);
    const held = new Map([[OBJ, bytes]]);
    const liar = net.add('liar', held);
    const honest = net.add('honest', held);
    net.tamper = corruptNthChunk('liar', 6);
    const f = reader(net, ['liar', 'honest']);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(contentHash(got.bytes)).toBe(contentHash(bytes));
    expect(got.via).toBe('peer');
    expect(f.badHolders).toEqual(['liar']);
    // The honest holder sent only what the liar had not sent correctly.
    expect(liar.counters.bytesOut).toBeGreaterThanOrEqual(5 * 65536);
    expect(honest.counters.bytesOut).toBe(bytes.byteLength - 5 * 65536);
  });

  it('in a swarm, a bad chunk from one holder is taken from another: the liar is named and little is sent twice', async () => {
    const net = new FakeNet();
    const bytes = sample(20 * 65536 + 123);
    const held = new Map([[OBJ, bytes]]);
    const liar = net.add('liar', held);
    const honest = net.add('honest', held);
    net.tamper = corruptNthChunk('liar', 3);
    const f = reader(net, ['liar', 'honest'], true);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(contentHash(got.bytes)).toBe(contentHash(bytes));
    expect(got.via).toBe('peer');
    expect(f.badHolders).toEqual(['liar']);
    expect(f.swarm!.stats.fromFull).toBe(bytes.byteLength);
    // Both served; what was sent twice is at most the liar's runs in flight when it was caught.
    expect(liar.counters.bytesOut).toBeGreaterThan(0);
    expect(honest.counters.bytesOut).toBeGreaterThan(0);
    expect(liar.counters.bytesOut + honest.counters.bytesOut).toBeLessThanOrEqual(bytes.byteLength + 16 * 65536);
  });

  it('leaves that do not match the object hash are refused before any chunk is kept', async () => {
    const net = new FakeNet();
    const bytes = sample(3 * 65536);
    const held = new Map([[OBJ, bytes]]);
    net.add('liar', held);
    const honest = net.add('honest', held);
    net.tamper = (from, _to, m) => {
      if (from === 'liar' && m[0] === 2) m[9] ^= 1; // the first leaf
      return m;
    };
    const f = reader(net, ['liar', 'honest']);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(contentHash(got.bytes)).toBe(contentHash(bytes));
    expect(f.badHolders).toEqual(['liar']);
    expect(honest.counters.bytesOut).toBe(bytes.byteLength);
  });

  it('a holder serving other bytes than the object is caught even when its leaves match them', async () => {
    const net = new FakeNet();
    const bytes = sample(4 * 65536);
    const other = bytes.slice();
    other[100] ^= 1;
    net.add('liar', new Map([[OBJ, other]]));
    net.add('honest', new Map([[OBJ, bytes]]));
    const f = reader(net, ['liar', 'honest']);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(f.badHolders).toEqual(['liar']);
  });

  it('when every holder lies the reader falls back to the relay', async () => {
    const net = new FakeNet();
    const bytes = sample(2 * 65536);
    net.add('liar', new Map([[OBJ, bytes]]));
    net.tamper = corruptNthChunk('liar', 1);
    const f = reader(net, ['liar']);
    await expect(f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) })).rejects.toThrow('the relay was used');
    expect(f.badHolders).toEqual(['liar']);
  });

  it('chunks of several leaves are checked leaf by leaf; a chunk larger than the reader asked is refused and the object taken from another', async () => {
    const net = new FakeNet();
    net.chunkBytes = 2 * 65536;
    const bytes = sample(9 * 65536 + 5);
    const held = new Map([[OBJ, bytes]]);
    const liar = net.add('liar', held);
    const honest = net.add('honest', held);
    liar.faults.chunkBytes = 3 * 65536;
    const f = reader(net, ['liar', 'honest']);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(honest.counters.bytesOut).toBe(bytes.byteLength);
    expect(f.badHolders).toEqual(['liar']);
    // Chunks of two leaves: the third leaf of a chunk corrupted in its middle byte is the one refetched.
    const net2 = new FakeNet();
    net2.chunkBytes = 2 * 65536;
    const liar2 = net2.add('liar', held);
    const honest2 = net2.add('honest', held);
    liar2.faults.corruptChunks = 1;
    const f2 = reader(net2, ['liar', 'honest']);
    const got2 = await f2.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(got2.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(f2.badHolders).toEqual(['liar']);
    expect(honest2.counters.bytesOut).toBe(bytes.byteLength - 65536);
  });
});

/** Runs `body` with a chunk checker that records the leaves of each check (then the one before is back). */
async function countingChecks<T>(body: (checks: number[]) => Promise<T>): Promise<T> {
  const checks: number[] = [];
  const before = setChunkChecker((want, first, piece) => {
    checks.push(Math.ceil(piece.byteLength / 65536));
    return Promise.resolve(leavesMatching(leafHashes(piece), want, first));
  });
  try {
    return await body(checks);
  } finally {
    setChunkChecker(before);
  }
}

/** Counts the requests (`req`) `from` sends, and their ranges' leaves. */
function countRequests(from: string, into: number[]): Tamper {
  return (f, _to, m) => {
    if (f === from && m[0] === 0) {
      const c = JSON.parse(new TextDecoder().decode(m.subarray(1))) as { k: string; o?: number; e?: number };
      if (c.k === 'req' && c.e !== undefined) into.push(Math.ceil((c.e - (c.o ?? 0)) / 65536));
    }
    return m;
  };
}

describe("a data channel's chunks of 3 leaves (Chromium's 256 KiB messages; issue 17, session 14)", () => {
  it('a whole-object transfer is checked a few MiB-sized pieces at a time, not a message at a time', async () => {
    const net = new FakeNet();
    net.chunkBytes = 3 * 65536;
    const bytes = sample(40 * 65536 + 7); // 41 leaves: 14 messages
    net.add('holder', new Map([[OBJ, bytes]]));
    const f = reader(net, ['holder']);
    const checks = await countingChecks(async (checks) => {
      const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      return checks;
    });
    // Every CHECK_BYTES (16 leaves) or more, then the rest: 18 + 18 + 5 leaves in 3 checks, not 14.
    expect(CHECK_BYTES).toBe(16 * 65536);
    expect(checks).toEqual([18, 18, 5]);
  });

  it("a lone swarm reader's runs are whole messages of about 1 MiB, each checked at once: no lone 1-leaf message but the object's last, a check a run", async () => {
    const net = new FakeNet();
    net.chunkBytes = 3 * 65536;
    const bytes = sample(64 * 65536);
    const runs = twoObjectsCounted(net, bytes);
    let chunks = 0;
    const count = net.tamper;
    net.tamper = (from, to, m) => {
      if (from === 'holder' && m[0] === CHUNK_KIND) chunks++;
      return count(from, to, m);
    };
    const f = reader(net, ['holder'], true);
    // The first fetch opens the link: its first run is asked before the link's messages are known (16 leaves).
    const first = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(first.bytes).equals(Buffer.from(bytes))).toBe(true);
    runs.length = 0;
    chunks = 0;
    const checks = await countingChecks(async (checks) => {
      const got = await f.fetch(OBJ2, { size: bytes.byteLength, hash: contentHash(bytes) });
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      return checks;
    });
    // Over the open link: runs of 18 leaves (6 messages of 3) in aligned blocks, the first with the leaves; the last
    // ends with the object (10 leaves: 3 + 3 + 3 + 1). One check a run.
    expect(runs.slice().sort((a, b) => a - b)).toEqual([10, 18, 18, 18]);
    expect(chunks).toBe(6 + 6 + 6 + 4);
    expect(checks.length).toBe(runs.length);
  });

  it("a lone reader over an open stream link asks the leaves with a whole block of runs (4 MiB), not 1 MiB: the holder sends through the leaves' round trip", async () => {
    const net = new FakeNet();
    net.chunkBytes = 16 * 65536; // a stream link's chunk (edge/fast-link.ts): 1 MiB
    const bytes = sample(8 * 16 * 65536 + 777); // 8 MiB and a part leaf: 129 leaves
    const runs = twoObjectsCounted(net, bytes);
    const f = reader(net, ['holder'], true);
    // The first fetch opens the link: its first run is asked before the link's chunk is known (16 leaves).
    const first = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(first.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(runs[0]).toBe(16);
    for (let i = 0; i < 4; i++) {
      runs.length = 0;
      const got = await f.fetch(i % 2 ? OBJ : OBJ2, { size: bytes.byteLength, hash: contentHash(bytes) });
      expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
      // The first request (with the leaves) is a whole block of 64 leaves (from a random place); each block is asked
      // once: 3 requests (64, 64 and the last leaf), none cut in two by the first.
      expect(runs[0]).toBe(64);
      expect(runs.slice().sort((a, b) => a - b)).toEqual([1, 64, 64]);
    }
  });
});

/** `holder` holds `bytes` as OBJ and OBJ2; the runs of leaves the reader asks are counted into the array returned. */
function twoObjectsCounted(net: FakeNet, bytes: Uint8Array): number[] {
  net.add(
    'holder',
    new Map([
      [OBJ, bytes],
      [OBJ2, bytes],
    ]),
  );
  const runs: number[] = [];
  net.tamper = countRequests('reader', runs);
  return runs;
}

/** `holder`'s chunk messages as a build of wire 1 sends them: kind 1, then transfer, offset and size in 20 bytes (a 21-byte header). */
function asWire1(holder: string): Tamper {
  return (from, _to, m) => {
    const h = from === holder ? readChunkHeader(m) : null;
    if (!h) return m;
    const old = new Uint8Array(21 + m.byteLength - CHUNK_HEADER_BYTES);
    const v = new DataView(old.buffer);
    old[0] = 1;
    v.setUint32(1, h.x, true);
    v.setFloat64(5, h.o, true);
    v.setFloat64(13, h.n, true);
    old.set(m.subarray(CHUNK_HEADER_BYTES), 21);
    return old;
  };
}

describe('peers of another build (link wire 2: a 24-byte chunk header, issue 17 session 13)', () => {
  it('chunks of the 21-byte header are refused: the link closes naming the older build, no liar is named, another holder serves the object byte for byte', async () => {
    const net = new FakeNet();
    const bytes = sample(12 * 65536 + 777);
    const held = new Map([[OBJ, bytes]]);
    net.add('old', held);
    const current = net.add('current', held);
    net.tamper = asWire1('old');
    const f = reader(net, ['old', 'current'], true);
    const got = await f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) });
    expect(Buffer.from(got.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(got.via).toBe('peer');
    expect(f.badHolders).toEqual([]);
    expect(current.counters.bytesOut).toBeGreaterThan(0);
    expect(net.logs.some((l) => l.startsWith('reader: peer link to old closed: a chunk of link wire 1'))).toBe(true);
  });

  it('a lone holder of the older build: the transfer fails as on a closed link (the relay is next), not as from a liar', async () => {
    const net = new FakeNet();
    const bytes = sample(3 * 65536);
    net.add('old', new Map([[OBJ, bytes]]));
    net.tamper = asWire1('old');
    const f = reader(net, ['old']);
    await expect(f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) })).rejects.toThrow('the relay was used');
    expect(f.badHolders).toEqual([]);
  });

  it('a reader of the older build (no wire in its request) is told so and sent no chunk', async () => {
    const net = new FakeNet();
    const bytes = sample(3 * 65536);
    const holder = net.add('holder', new Map([[OBJ, bytes]]));
    const fails: string[] = [];
    net.tamper = (from, _to, m) => {
      if (m[0] !== 0) return m;
      const c = JSON.parse(new TextDecoder().decode(m.subarray(1))) as { k: string; v?: number; reason?: string };
      if (from === 'holder' && c.k === 'fail') fails.push(c.reason!);
      if (from !== 'reader' || c.k !== 'req') return m;
      delete c.v; // as a build of wire 1 asks
      return Uint8Array.of(0, ...new TextEncoder().encode(JSON.stringify(c)));
    };
    const f = reader(net, ['holder']);
    await expect(f.fetch(OBJ, { size: bytes.byteLength, hash: contentHash(bytes) })).rejects.toThrow('the relay was used');
    expect(fails).toEqual(['link wire 1 asked, this holder speaks wire 2 (another build)']);
    expect(holder.counters.bytesOut).toBe(0);
    expect(f.badHolders).toEqual([]);
  });
});
