// On Node, content hashes use OpenSSL's SHA-256 (GB/s, not the portable
// ~100 MB/s), and large objects in shared memory are hashed by a small pool of
// worker threads, each taking a run of chunks, without copying them (issue 17).
// The same pool checks the chunks a fast link receives, in place, so the
// receiving node's main thread only copies bytes off the socket.
import { createHash, hash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { EvalPool } from './eval-pool.js';
import { setIdHasher } from '../shared/ids.js';
import {
  HASH_CHUNK,
  LEAF_BYTES,
  chunkCount,
  chunkHash,
  leafHashes,
  leavesMatching,
  setAsyncLeafHasher,
  setChunkChecker,
  setChunkHasher,
} from '../shared/hash.js';

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

/**
 * Posts to the hash pool's threads (each wakes one), the received pieces they carried to check (once each), batches
 * checked again (HEDGE_MS), and objects whose leaves were begun on the caller's thread while the threads booted.
 */
export const hashPoolStats = { posts: 0, pieces: 0, hedges: 0, bootLeaves: 0 };

/** Leaves (64 KiB each) hashed on the caller's thread between macrotasks while the pool boots: 4 MiB, ~3 ms here. */
const BOOT_SLICE_LEAVES = 64;

/** A received piece waiting to be checked, and where its leaves go. */
interface Check {
  piece: Uint8Array;
  out: SharedArrayBuffer;
  done: (e?: Error) => void;
  settled?: boolean;
}

/** A batch of checks out at a thread: since when, how many bytes, and whether another thread checks it again. */
interface Batch {
  checks: Check[];
  at: number;
  bytes: number;
  hedged: boolean;
}

/**
 * A batch out at a thread longer than this, plus HEDGE_MS_PER_MIB a MiB, is
 * checked again by a thread with nothing to do (the first answer counts).
 * Traced (session 22, load 7-12): the first post to each thread of a node
 * took 18-268 ms for 1 MiB and once a batch of 5 MiB took 163 ms, while
 * 1 MiB usually takes ~1 ms (cause not found; presumably threads the OS set
 * aside), the transfer's end waiting on them with the other thread idle.
 */
const HEDGE_MS = 25;
const HEDGE_MS_PER_MIB = 4;

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

  constructor(private readonly pool: HashThreads) {
    this.busy = Array.from({ length: pool.size }, () => false);
  }

  warm(): void {
    this.pool.warm();
  }

  get online(): number {
    return this.pool.online;
  }

  /** Whether every thread is up: until then what comes is hashed on the caller's thread (bootingLeaves) and the threads are started. */
  private up(): boolean {
    if (this.pool.online >= this.pool.size) return true;
    this.pool.warm();
    return false;
  }

  async leaves(bytes: Uint8Array): Promise<Uint8Array> {
    const n = chunkCount(bytes.byteLength);
    const out = new SharedArrayBuffer(n * LEAF_BYTES);
    try {
      const from = this.up() ? 0 : await this.bootingLeaves(bytes, out);
      const size = this.pool.size;
      const per = Math.ceil((n - from) / size);
      const parts: Promise<unknown>[] = [];
      for (let k = 0; k < size && from + k * per < n; k++) {
        const item = { buf: bytes.buffer, off: bytes.byteOffset, len: bytes.byteLength, out, from: from + k * per, to: Math.min(n, from + (k + 1) * per) };
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
   * The threads are booting (a driver starts them at its first large value,
   * not at connect: every test file that connects would pay ~4 thread boots;
   * traced, a driver's first 80 MiB put waited 80-190 ms for them, issue 17,
   * session 23): leaves are hashed here, BOOT_SLICE_LEAVES between macrotasks,
   * until the threads are up. Returns the first leaf left for them (all: n).
   */
  private async bootingLeaves(bytes: Uint8Array, out: SharedArrayBuffer): Promise<number> {
    hashPoolStats.bootLeaves++;
    const n = chunkCount(bytes.byteLength);
    const to = new Uint8Array(out);
    let i = 0;
    while (i < n && !this.up()) {
      for (const end = Math.min(n, i + BOOT_SLICE_LEAVES); i < end; i++)
        to.set(chunkHash(bytes.subarray(i * HASH_CHUNK, (i + 1) * HASH_CHUNK)), i * LEAF_BYTES);
      if (i < n) await new Promise((r) => setImmediate(r));
    }
    return i;
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
    if (!this.up()) return leavesMatching(leafHashes(piece), leaves, first);
    const n = chunkCount(piece.byteLength);
    const out = new SharedArrayBuffer(n * LEAF_BYTES);
    try {
      await new Promise<void>((resolve, reject) => {
        const c: Check = {
          piece,
          out,
          done: (e) => {
            c.settled = true;
            if (e) reject(e);
            else resolve();
          },
        };
        this.waiting.push(c);
        const k = this.idleWorker();
        if (k >= 0) this.post(k);
      });
    } catch {
      return leavesMatching(leafHashes(piece), leaves, first);
    }
    return leavesMatching(new Uint8Array(out), leaves, first);
  }

  private readonly waiting: Check[] = [];
  private readonly busy: boolean[];

  /** An idle worker (taking turns), or -1. */
  private idleWorker(): number {
    const size = this.pool.size;
    for (let i = 0; i < size; i++) {
      const k = this.turn++ % size;
      if (!this.busy[k]) return k;
    }
    return -1;
  }

  /** Batches out, by thread (not the checks made again). */
  private readonly out = new Map<number, Batch>();
  private hedgeTimer: ReturnType<typeof setTimeout> | null = null;

  private post(k: number): void {
    const checks = this.waiting.splice(0, Math.ceil(this.waiting.length / this.pool.size));
    if (!checks.length) {
      this.busy[k] = false;
      return this.hedge();
    }
    const bytes = checks.reduce((n, c) => n + c.piece.byteLength, 0);
    const batch: Batch = { checks, at: performance.now(), bytes, hedged: false };
    this.out.set(k, batch);
    this.send(k, checks, batch);
  }

  /** A thread is idle and nothing waits: the batch out longest past its bound is checked again there (else a timer for when one will be). */
  private hedge(): void {
    if (this.hedgeTimer) clearTimeout(this.hedgeTimer);
    this.hedgeTimer = null;
    if (this.waiting.length || !this.busy.includes(false)) return;
    const now = performance.now();
    let next = Infinity;
    for (const b of this.out.values()) {
      if (b.hedged) continue;
      const due = b.at + HEDGE_MS + (HEDGE_MS_PER_MIB * b.bytes) / (1 << 20);
      if (due > now) {
        next = Math.min(next, due);
        continue;
      }
      const left = b.checks.filter((c) => !c.settled);
      b.hedged = true;
      if (!left.length) continue;
      hashPoolStats.hedges++;
      return this.send(this.idleWorker(), left, null);
    }
    if (next < Infinity) {
      this.hedgeTimer = setTimeout(() => this.hedge(), next - now);
      this.hedgeTimer.unref();
    }
  }

  /** Posts `checks` to thread `k`; `batch`: what it is out as (null: a batch checked again). */
  private send(k: number, checks: Check[], batch: Batch | null): void {
    this.busy[k] = true;
    hashPoolStats.posts++;
    if (batch) hashPoolStats.pieces += checks.length;
    const items = checks.map((c) => ({
      buf: c.piece.buffer,
      off: c.piece.byteOffset,
      len: c.piece.byteLength,
      out: c.out,
      from: 0,
      to: chunkCount(c.piece.byteLength),
    }));
    const end = (e?: Error) => {
      if (this.out.get(k) === batch) this.out.delete(k);
      for (const c of checks) c.done(e);
      this.post(k);
    };
    this.pool.call(k, { items }).then(() => end(), end);
  }
}
