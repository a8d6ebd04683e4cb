// On Node, content hashes use OpenSSL's SHA-256 (GB/s, not the portable
// ~100 MB/s), and large objects in shared memory are hashed by a small pool of
// worker threads, each taking a run of chunks, without copying them (issue 17).
// The same pool checks the chunks a fast link receives, in place, so the
// receiving node's main thread only copies bytes off the socket.
import { createHash, hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { EvalPool } from './eval-pool.js';
import { setIdHasher } from '../shared/ids.js';
import { HASH_CHUNK, LEAF_BYTES, chunkCount, leafHashes, leavesMatching, setAsyncLeafHasher, setChunkChecker, setChunkHasher } from '../shared/hash.js';

/** Below this, the pool's round trip costs more than it saves. */
const POOL_MIN_BYTES = 4 << 20;
/** Received pieces this large or larger are checked by the pool (a fast link's chunks are 1 MiB). */
const CHECK_MIN_BYTES = 256 << 10;

// CommonJS source, so the pool needs no file on disk (works from sources and from dist).
// The one-shot digest (Node >= 20.12) where there is one: a Hash object per 64 KiB leaf (its constructor,
// digest and lookup of the algorithm) was a fifth of the pool's CPU checking a fast link's chunks (issue 17,
// session 18: 80 MiB in 64 KiB leaves, 1.45 -> 1.08 ms per MiB on this VM).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash, hash } = require('node:crypto');
const sha256 = typeof hash === 'function' ? (b) => hash('sha256', b, 'buffer') : (b) => createHash('sha256').update(b).digest();
parentPort.on('message', (m) => {
  for (const it of m.items) {
    const b = new Uint8Array(it.buf, it.off, it.len);
    const out = new Uint8Array(it.out);
    for (let i = it.from; i < it.to; i++) {
      const s = i * ${HASH_CHUNK};
      out.set(sha256(b.subarray(s, Math.min(it.len, s + ${HASH_CHUNK}))), i * ${LEAF_BYTES});
    }
  }
  parentPort.postMessage(m.x);
});`;

/** Posts to the hash pool's threads (each wakes one), and the received pieces they carried to check. */
export const hashPoolStats = { posts: 0, pieces: 0 };

/** A received piece waiting to be checked, and where its leaves go. */
interface Check {
  piece: Uint8Array;
  out: SharedArrayBuffer;
  done: (e?: Error) => void;
}

let pool: HashPool | null = null;

export function installNodeHasher(): void {
  if (pool) return;
  // The one-shot digest (Node >= 20.12) skips a Hash object a call: what ids (20 bytes) mostly cost.
  const sha256 = typeof hash === 'function' ? (b: Uint8Array) => hash('sha256', b, 'buffer') : (b: Uint8Array) => createHash('sha256').update(b).digest();
  setChunkHasher(sha256);
  setIdHasher(sha256);
  const p = (pool = new HashPool(hashThreads(Math.max(1, Math.min(4, availableParallelism())))));
  setAsyncLeafHasher((bytes) =>
    bytes.buffer instanceof SharedArrayBuffer && bytes.byteLength >= POOL_MIN_BYTES ? p.leaves(bytes) : Promise.resolve(leafHashes(bytes)),
  );
  setChunkChecker((leaves, first, piece) =>
    piece.byteLength >= CHECK_MIN_BYTES ? p.matching(leaves, first, piece) : Promise.resolve(leavesMatching(leafHashes(piece), leaves, first)),
  );
}

/**
 * Installs the hasher and starts its pool's threads now (a node, as it
 * starts): its first large read or put does not wait for them to boot (traced,
 * session 22: a first 80 MiB read between two edge nodes had 29 MiB arrived
 * and unchecked while the pool booted, 184 ms at load 10). Idle threads do not
 * keep the process alive.
 */
export function startHashPool(): void {
  installNodeHasher();
  pool!.warm();
}

/** How many of the hash pool's threads are up (0 before it is installed). */
export function hashPoolOnline(): number {
  return pool?.online ?? 0;
}

/** What the hash pool needs of its threads (an EvalPool; a fake in unit tests). */
export type HashThreads = Pick<EvalPool, 'size' | 'call' | 'warm' | 'online'>;

/** The pool's threads, running WORKER_SOURCE. */
export function hashThreads(size: number): HashThreads {
  return new EvalPool(WORKER_SOURCE, size, 'tabmesh-hash');
}

export class HashPool {
  private turn = 0;

  constructor(private readonly pool: HashThreads) {}

  warm(): void {
    this.pool.warm();
  }

  get online(): number {
    return this.pool.online;
  }

  async leaves(bytes: Uint8Array): Promise<Uint8Array> {
    const n = chunkCount(bytes.byteLength);
    const out = new SharedArrayBuffer(n * LEAF_BYTES);
    try {
      const size = this.pool.size;
      const per = Math.ceil(n / size);
      const parts: Promise<unknown>[] = [];
      for (let k = 0; k < size && k * per < n; k++) {
        const item = { buf: bytes.buffer, off: bytes.byteOffset, len: bytes.byteLength, out, from: k * per, to: Math.min(n, (k + 1) * per) };
        hashPoolStats.posts++;
        parts.push(this.pool.call(k, { items: [item] }));
      }
      await Promise.all(parts);
    } catch (e) {
      process.stderr.write(`tabmesh: hash workers failed (${(e as Error).message}); hashing here\n`);
      return leafHashes(bytes);
    }
    return new Uint8Array(out).slice();
  }

  /**
   * Leaves of one received piece (a fast link's chunk), by one worker: how
   * many leading ones match. Pieces wait in one queue, not a worker's: a
   * worker that comes free takes its share of them, ceil(waiting / threads),
   * in one post (a wake-up per post, not per piece: each cost the receiving
   * main thread a postMessage and a preemption). Queued per worker, pieces
   * waited behind a worker the OS had set aside while the other took new ones
   * (traced, session 22: half the posts left pieces in the other's queue; one
   * batch held 8 MiB unchecked 140 ms at load 12).
   */
  async matching(leaves: Uint8Array, first: number, piece: Uint8Array): Promise<number> {
    const n = chunkCount(piece.byteLength);
    const out = new SharedArrayBuffer(n * LEAF_BYTES);
    try {
      await new Promise<void>((resolve, reject) => {
        this.waiting.push({ piece, out, done: (e) => (e ? reject(e) : resolve()) });
        const k = this.idleWorker();
        if (k >= 0) this.post(k);
      });
    } catch {
      return leavesMatching(leafHashes(piece), leaves, first);
    }
    return leavesMatching(new Uint8Array(out), leaves, first);
  }

  private readonly waiting: Check[] = [];
  private readonly busy: boolean[] = [];

  /** An idle worker (taking turns), or -1. */
  private idleWorker(): number {
    const size = this.pool.size;
    for (let i = 0; i < size; i++) {
      const k = this.turn++ % size;
      if (!this.busy[k]) return k;
    }
    return -1;
  }

  private post(k: number): void {
    const batch = this.waiting.splice(0, Math.ceil(this.waiting.length / this.pool.size));
    this.busy[k] = batch.length > 0;
    if (!batch.length) return;
    hashPoolStats.posts++;
    hashPoolStats.pieces += batch.length;
    const items = batch.map((c) => ({
      buf: c.piece.buffer,
      off: c.piece.byteOffset,
      len: c.piece.byteLength,
      out: c.out,
      from: 0,
      to: chunkCount(c.piece.byteLength),
    }));
    this.pool.call(k, { items }).then(
      () => {
        for (const c of batch) c.done();
        this.post(k);
      },
      (e: Error) => {
        for (const c of batch) c.done(e);
        this.post(k);
      },
    );
  }
}
