// Content hashes as a chunk-hash tree (issue 17): every 64 KiB chunk checks on
// its own against its leaf, the leaves against the object's hash, and every way
// of computing it (sync, sliced, worker threads) gives the same hash.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  HASH_CHUNK,
  LEAF_BYTES,
  TreeHasher,
  asyncHashFrom,
  chunkMatches,
  chunksMatchingAsync,
  contentHash,
  contentHashAsync,
  leafHashes,
  chunkHash,
  rootOf,
  setChunkChecker,
} from '../../shared/hash.js';
import { HashPool, hashPoolOnline, hashPoolStats, installNodeHasher, startHashPool, type HashThreads } from '../../edge/node-hash.js';
import { availableParallelism } from 'node:os';
import { until } from '../helpers/poll.js';
import { allocBytes } from '../../shared/bytes.js';

function sample(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

describe('chunk-hash tree', () => {
  it('the hash is SHA-256 over the SHA-256 of each 64 KiB chunk, the last one short', () => {
    const b = sample(2 * HASH_CHUNK + 100, 1);
    const leaves = Buffer.concat([sha(b.subarray(0, HASH_CHUNK)), sha(b.subarray(HASH_CHUNK, 2 * HASH_CHUNK)), sha(b.subarray(2 * HASH_CHUNK))]);
    expect(contentHash(b)).toBe(sha(leaves).toString('hex'));
    expect(Buffer.from(leafHashes(b)).equals(leaves)).toBe(true);
  });

  it('the empty object has no leaves and a fixed hash', () => {
    expect(leafHashes(new Uint8Array(0)).byteLength).toBe(0);
    expect(contentHash(new Uint8Array(0))).toBe(sha(new Uint8Array(0)).toString('hex'));
  });

  it('each chunk checks on its own; a flipped byte fails only its chunk', () => {
    const b = sample(5 * HASH_CHUNK, 2);
    const leaves = leafHashes(b);
    const bad = b.slice();
    bad[3 * HASH_CHUNK + 7] ^= 1;
    for (let i = 0; i < 5; i++) {
      expect(chunkMatches(leaves, i, b.subarray(i * HASH_CHUNK, (i + 1) * HASH_CHUNK))).toBe(true);
      expect(chunkMatches(leaves, i, bad.subarray(i * HASH_CHUNK, (i + 1) * HASH_CHUNK))).toBe(i !== 3);
    }
    expect(chunkMatches(leaves, 5, new Uint8Array(1))).toBe(false); // past the last leaf
    expect(contentHash(bad)).not.toBe(contentHash(b));
  });

  it('the portable hasher, OpenSSL and the worker pool over shared memory agree', async () => {
    const b = sample(9 * (1 << 20) + 3, 3);
    const portable = contentHash(b);
    const sliced = await contentHashAsync(b);
    // Shared memory through WebCrypto (a cross-origin isolated tab): each chunk copied into one reused buffer first.
    const sharedBytes = allocBytes(b.byteLength);
    sharedBytes.set(b);
    expect((await contentHashAsync(sharedBytes)).hash).toBe(portable);
    const bad = allocBytes(3 * HASH_CHUNK);
    bad.set(b.subarray(0, 3 * HASH_CHUNK));
    bad[HASH_CHUNK + 5] ^= 1;
    expect(await chunksMatchingAsync(leafHashes(b), 0, bad)).toBe(1);
    // The portable hasher is JavaScript on the caller's thread: every stored result goes async (WebCrypto in tabs).
    expect(asyncHashFrom()).toBe(0);
    installNodeHasher();
    expect(asyncHashFrom()).toBe(8 << 20);
    expect(contentHash(b)).toBe(portable);
    expect(sliced.hash).toBe(portable);
    const shared = allocBytes(b.byteLength);
    shared.set(b);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    const pooled = await contentHashAsync(shared);
    expect(pooled.hash).toBe(portable);
    expect(pooled.leaves.byteLength).toBe(Math.ceil(b.byteLength / HASH_CHUNK) * LEAF_BYTES);
    expect(rootOf(pooled.leaves)).toBe(portable);
  });
});

describe('checks of received pieces in the hash pool', () => {
  it('pieces arriving while the workers are busy go together in their next post; each is checked on its own', async () => {
    // The threads up first (until then pieces are checked on this thread: see 'a pool still booting').
    startHashPool();
    await until(() => hashPoolOnline() === Math.min(4, availableParallelism()), { what: () => `the hash pool's threads up (${hashPoolOnline()})` });
    const per = 1 << 20;
    const obj = allocBytes(20 * per);
    obj.set(sample(obj.byteLength, 5));
    const leaves = leafHashes(obj);
    obj[7 * per + 9 * HASH_CHUNK + 1] ^= 1; // the tenth leaf of the eighth piece
    const posts = hashPoolStats.posts;
    const hedges = hashPoolStats.hedges;
    const pieces = hashPoolStats.pieces;
    const got = await Promise.all(
      Array.from({ length: 20 }, (_, i) => chunksMatchingAsync(leaves, (i * per) / HASH_CHUNK, obj.subarray(i * per, (i + 1) * per))),
    );
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => (i === 7 ? 9 : 16)));
    expect(hashPoolStats.pieces - pieces).toBe(20);
    // One post per idle worker at first, then batches: far fewer than one a piece (a batch checked again under load not counted).
    expect(hashPoolStats.posts - posts - (hashPoolStats.hedges - hedges)).toBeLessThanOrEqual(10);
  });
});

describe('the hash pool with one thread set aside', () => {
  it("a held thread strands nothing: pieces arriving meanwhile go to the other thread, and the held thread's own piece is checked again there", async () => {
    // Two threads that hash as the real ones do (each piece's leaves into its `out`); thread 1 answers only when let go
    // (a thread the OS set aside under load: traced, a first 1 MiB took 268 ms, a batch of 5 MiB 163 ms).
    const held: (() => void)[] = [];
    const calls = [0, 0];
    const threads: HashThreads = {
      size: 2,
      online: 2,
      warm: () => {},
      call: (k, msg) => {
        calls[k]++;
        for (const it of msg.items as { buf: SharedArrayBuffer; off: number; len: number; out: SharedArrayBuffer; from: number; to: number }[]) {
          const b = new Uint8Array(it.buf, it.off, it.len);
          const out = new Uint8Array(it.out);
          for (let i = it.from; i < it.to; i++) out.set(chunkHash(b.subarray(i * HASH_CHUNK, Math.min(it.len, (i + 1) * HASH_CHUNK))), i * LEAF_BYTES);
        }
        return k === 1 ? new Promise((r) => held.push(() => r(undefined))) : Promise.resolve();
      },
    };
    const pool = new HashPool(threads);
    const per = 4 * HASH_CHUNK;
    const pieces = 12;
    const obj = allocBytes(pieces * per);
    obj.set(sample(obj.byteLength, 11));
    const leaves = leafHashes(obj);
    obj[9 * per + 2 * HASH_CHUNK + 3] ^= 1; // the third leaf of piece 9
    obj[1 * per + 3 * HASH_CHUNK] ^= 1; // the last leaf of piece 1 (the held thread's)
    const hedges = hashPoolStats.hedges;
    const got: (number | undefined)[] = Array.from({ length: pieces }, () => undefined);
    const all = Array.from({ length: pieces }, (_, i) =>
      pool.matching(leaves, (i * per) / HASH_CHUNK, obj.subarray(i * per, (i + 1) * per)).then((m) => (got[i] = m)),
    );
    // The first piece went to thread 0, the second to thread 1 (held); the other ten wait, and thread 0 takes them all,
    // then checks the second again: every piece is checked while thread 1 is still held.
    await until(() => got.every((m) => m !== undefined), {
      what: () => `every piece checked while thread 1 is held (${got.map((m) => m ?? '-').join(' ')}; posts ${calls.join('/')})`,
    });
    expect(calls[1]).toBe(1);
    expect(hashPoolStats.hedges - hedges).toBe(1);
    expect(got).toEqual(Array.from({ length: pieces }, (_, i) => (i === 9 ? 2 : i === 1 ? 3 : 4)));
    for (const f of held.splice(0)) f(); // its late answer changes nothing
    await Promise.all(all);
    expect(got[1]).toBe(3);
  });
});

/** Threads that hash as the real ones do, up once warm() was called `upAfter` times (never: Infinity); their posts counted. */
function bootingThreads(upAfter: number) {
  const t = { warms: 0, calls: 0, froms: [] as number[] };
  const threads: HashThreads = {
    size: 2,
    get online() {
      return t.warms >= upAfter ? 2 : 0;
    },
    warm: () => void t.warms++,
    call: (_k, msg) => {
      t.calls++;
      for (const it of msg.items as { buf: SharedArrayBuffer; off: number; len: number; out: SharedArrayBuffer; from: number; to: number }[]) {
        t.froms.push(it.from);
        const b = new Uint8Array(it.buf, it.off, it.len);
        const out = new Uint8Array(it.out);
        for (let i = it.from; i < it.to; i++) out.set(chunkHash(b.subarray(i * HASH_CHUNK, Math.min(it.len, (i + 1) * HASH_CHUNK))), i * LEAF_BYTES);
      }
      return Promise.resolve();
    },
  };
  return { t, pool: new HashPool(threads) };
}

describe('a pool still booting', () => {
  it("a driver's first large value is hashed on its own thread while the pool's threads boot, and starts them", async () => {
    installNodeHasher();
    const { t, pool } = bootingThreads(Infinity);
    const obj = allocBytes(9 * (1 << 20) + 3);
    obj.set(sample(obj.byteLength, 21));
    expect(await pool.leaves(obj)).toEqual(leafHashes(obj));
    expect(t.warms).toBeGreaterThan(0);
    expect(t.calls).toBe(0);
    // A received piece meanwhile: checked here too, each leaf.
    const leaves = leafHashes(obj);
    obj[3 * HASH_CHUNK + 7] ^= 1;
    expect(await pool.matching(leaves, 0, obj.subarray(0, 1 << 20))).toBe(3);
    expect(t.calls).toBe(0);
  });

  it('threads that come up while a value is being hashed here take the rest of its leaves', async () => {
    installNodeHasher();
    const { t, pool } = bootingThreads(3);
    const obj = allocBytes(20 * (1 << 20) + 5);
    obj.set(sample(obj.byteLength, 22));
    expect(await pool.leaves(obj)).toEqual(leafHashes(obj));
    expect(t.calls).toBe(2);
    // Two slices were hashed here before the threads were up; the threads took the leaves from there on.
    expect(Math.min(...t.froms)).toBe(128);
  });
});

describe('TreeHasher', () => {
  it('a received run of chunks is checked in place by the worker pool as by this thread: the leading chunks that match', async () => {
    installNodeHasher();
    const n = 20 * HASH_CHUNK + 123;
    const b = sample(n, 9);
    const leaves = leafHashes(b);
    const shared = allocBytes(n);
    shared.set(b);
    const piece = shared.subarray(4 * HASH_CHUNK, n); // chunks 4..20, the last one short
    const pool = setChunkChecker(null);
    try {
      for (const checker of [null, pool]) {
        setChunkChecker(checker);
        expect(await chunksMatchingAsync(leaves, 4, piece)).toBe(17);
        shared[9 * HASH_CHUNK + 5] ^= 1; // chunk 9: five chunks of the piece match
        expect(await chunksMatchingAsync(leaves, 4, piece)).toBe(5);
        shared[9 * HASH_CHUNK + 5] ^= 1;
        expect(await chunksMatchingAsync(leaves.subarray(0, 10 * LEAF_BYTES), 4, piece)).toBe(6); // leaves end at chunk 9
      }
    } finally {
      setChunkChecker(pool);
    }
  });

  it('bytes arriving in pieces of any size hash as the whole', () => {
    const b = sample(3 * HASH_CHUNK + 999, 4);
    for (const piece of [1000, HASH_CHUNK, HASH_CHUNK + 1, 7 * 1024 * 1024]) {
      const h = new TreeHasher();
      for (let o = 0; o < b.length; o += piece) h.update(b.subarray(o, o + piece));
      expect(h.digest()).toBe(contentHash(b));
    }
    expect(new TreeHasher().digest()).toBe(contentHash(new Uint8Array(0)));
  });
});
