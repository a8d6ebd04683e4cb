// Content hashes of objects (issue 17): a chunk-hash tree of one level. Every
// 64 KiB chunk of an object has its own SHA-256 (a leaf); the object's hash is
// the SHA-256 of its leaves in order. A reader that got the leaves (and checked
// them against the object's hash) verifies each chunk on its own as it
// arrives, so a bad chunk is refetched from another holder, not the object.
//
// `contentHash` is synchronous, for values that must be announced in order.
// `contentHashAsync` is for large objects off the caller's path: Node installs
// a pool of worker threads that hash shared memory in parallel (edge/node-hash.ts);
// browsers use WebCrypto; elsewhere it hashes a slice at a time between macrotasks.
import { sha256 } from '@noble/hashes/sha2';
import { toHex } from './ids.js';

/** Bytes of object per leaf hash (and per verified transfer chunk). */
export const HASH_CHUNK = 64 * 1024;
export const LEAF_BYTES = 32;

/** SHA-256 of one chunk, 32 bytes. */
export type ChunkHasher = (chunk: Uint8Array) => Uint8Array;
/** Leaves of `bytes` (LEAF_BYTES per chunk), computed off the caller's path where the platform can. */
export type AsyncLeafHasher = (bytes: Uint8Array) => Promise<Uint8Array>;

/** WebCrypto where the context has it (browsers in secure contexts): native SHA-256, off the main thread. */
/** The part of WebCrypto used here (shared/ is typed without the DOM library). */
interface Digester {
  digest(algorithm: 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}
const subtle: Digester | undefined = (globalThis as { crypto?: { subtle?: Digester } }).crypto?.subtle;
const shared = (b: Uint8Array) => typeof SharedArrayBuffer === 'function' && b.buffer instanceof SharedArrayBuffer;
/**
 * WebCrypto takes no view of shared memory (a cross-origin isolated tab's
 * objects, issue 17): such a chunk is copied out first into one reused buffer
 * (digest copies its input before it returns, as the spec says), against
 * ~17 ms per MiB of the JavaScript SHA-256 on the caller's thread. A fresh
 * slice per chunk was 0.7-2 ms per MiB of a tab's main thread (a
 * parameter-server round, bench/objects-paramserver-trace.ts).
 */
let digestScratch = new Uint8Array(0);
function digestable(c: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!shared(c)) return c as Uint8Array<ArrayBuffer>;
  if (digestScratch.byteLength < c.byteLength) digestScratch = new Uint8Array(Math.max(c.byteLength, HASH_CHUNK));
  const out = digestScratch.subarray(0, c.byteLength);
  out.set(c);
  return out;
}
const defaultChunkHasher: ChunkHasher = (c) => sha256(c);
let chunkHasher: ChunkHasher = defaultChunkHasher;
/** Leaves off the caller's path without a platform pool: WebCrypto where there is one, else sliced between macrotasks. */
export const portableAsyncLeaves: AsyncLeafHasher = (bytes) => (subtle ? subtleLeaves(subtle, bytes) : slicedLeaves(bytes));
let asyncLeaves: AsyncLeafHasher = portableAsyncLeaves;

/** Where the synchronous hasher is native (Node's OpenSSL, GB/s), a thread hop costs more than hashing smaller objects. */
const NATIVE_ASYNC_HASH_BYTES = 8 << 20;

/**
 * The size from which a node hashes an object it made (a task's result) off
 * its main thread: 8 MiB where a native synchronous hasher is installed, any
 * size where that hasher is the portable JavaScript SHA-256 (browsers: a tab's
 * main thread spent 17 ms per MiB in it, 8 MiB a parameter-server round;
 * WebCrypto hashes natively, off that thread). Issue 17, session 11.
 */
export function asyncHashFrom(): number {
  return chunkHasher === defaultChunkHasher ? 0 : NATIVE_ASYNC_HASH_BYTES;
}

export function setChunkHasher(h: ChunkHasher): void {
  chunkHasher = h;
}

/** Installs `h`; returns the one it replaces. */
export function setAsyncLeafHasher(h: AsyncLeafHasher): AsyncLeafHasher {
  const old = asyncLeaves;
  asyncLeaves = h;
  return old;
}

/**
 * How many leading chunks of `piece` (whole chunks `first`, `first + 1`, ...
 * of an object; the last may be short) match their leaves, computed off the
 * caller's thread (Node: the hash pool checks shared memory in place).
 */
export type ChunkChecker = (leaves: Uint8Array, first: number, piece: Uint8Array) => Promise<number>;
let chunkChecker: ChunkChecker | null = null;

/** Installs `c` (null: none, chunks are checked as single leaves); returns the one it replaces. */
export function setChunkChecker(c: ChunkChecker | null): ChunkChecker | null {
  const old = chunkChecker;
  chunkChecker = c;
  return old;
}

export function chunkCount(size: number): number {
  return Math.ceil(size / HASH_CHUNK);
}

/** The leaf of chunk `i` of an object (the bytes of that chunk only). */
export function chunkHash(chunk: Uint8Array): Uint8Array {
  return chunkHasher(chunk);
}

/** All leaves of `bytes`, in order. */
export function leafHashes(bytes: Uint8Array): Uint8Array {
  const n = chunkCount(bytes.byteLength);
  const out = new Uint8Array(n * LEAF_BYTES);
  for (let i = 0; i < n; i++) out.set(chunkHasher(bytes.subarray(i * HASH_CHUNK, (i + 1) * HASH_CHUNK)), i * LEAF_BYTES);
  return out;
}

/** The object hash of a list of leaves. */
export function rootOf(leaves: Uint8Array): string {
  return toHex(chunkHasher(leaves));
}

export function contentHash(bytes: Uint8Array): string {
  const leaves = leafHashes(bytes);
  rememberLeaves(bytes, leaves);
  return rootOf(leaves);
}

export interface Hashed {
  hash: string;
  leaves: Uint8Array;
}

export async function contentHashAsync(bytes: Uint8Array): Promise<Hashed> {
  const leaves = await leavesOf(bytes);
  return { hash: rootOf(leaves), leaves };
}

/**
 * Leaves already computed, by the bytes they describe (the very view: stores
 * keep the view they were given). A holder serves an object many times, and
 * readers each get its leaves: hashing it again per request (1 MiB of SHA-256
 * in a tab's main thread each time) starved busy tabs for seconds. Weak, so
 * the leaves go with their bytes.
 */
const knownLeaves = new WeakMap<Uint8Array, Uint8Array | Promise<Uint8Array>>();

/** Records the leaves of `bytes` (computed, or received and checked against the object hash). */
export function rememberLeaves(bytes: Uint8Array, leaves: Uint8Array): void {
  knownLeaves.set(bytes, leaves);
}

/** The leaves of `bytes` if they are known already (a store keeps them when it spills the bytes). */
export function knownLeavesOf(bytes: Uint8Array): Uint8Array | undefined {
  const known = knownLeaves.get(bytes);
  return known instanceof Uint8Array ? known : undefined;
}

/** The leaves of `bytes`: remembered, being computed, or computed now off the caller's path. */
export function leavesOf(bytes: Uint8Array): Promise<Uint8Array> {
  const known = knownLeaves.get(bytes);
  if (known) return Promise.resolve(known);
  const p = asyncLeaves(bytes).then(
    (leaves) => {
      knownLeaves.set(bytes, leaves);
      return leaves;
    },
    (e: unknown) => {
      knownLeaves.delete(bytes);
      throw e;
    },
  );
  knownLeaves.set(bytes, p);
  return p;
}

/** How many leading leaves of `got` equal those of `leaves` from leaf `first` on. */
export function leavesMatching(got: Uint8Array, leaves: Uint8Array, first: number): number {
  const n = got.byteLength / LEAF_BYTES;
  for (let i = 0; i < n; i++) {
    const o = (first + i) * LEAF_BYTES;
    if (o + LEAF_BYTES > leaves.byteLength) return i;
    for (let k = 0; k < LEAF_BYTES; k++) if (got[i * LEAF_BYTES + k] !== leaves[o + k]) return i;
  }
  return n;
}

/** Whether `chunk` (chunk `i` of an object) matches its leaf in `leaves`. */
export function chunkMatches(leaves: Uint8Array, i: number, chunk: Uint8Array): boolean {
  const h = chunkHasher(chunk);
  const o = i * LEAF_BYTES;
  if (o + LEAF_BYTES > leaves.byteLength) return false;
  for (let k = 0; k < LEAF_BYTES; k++) if (h[k] !== leaves[o + k]) return false;
  return true;
}

/** Leaves by WebCrypto, 1 MiB of chunks at a time. */
async function subtleLeaves(sc: Digester, bytes: Uint8Array): Promise<Uint8Array> {
  const n = chunkCount(bytes.byteLength);
  const out = new Uint8Array(n * LEAF_BYTES);
  const perSlice = (1 << 20) / HASH_CHUNK;
  for (let i = 0; i < n; i += perSlice) {
    const digests = [];
    for (let j = i; j < Math.min(n, i + perSlice); j++) digests.push(sc.digest('SHA-256', digestable(bytes.subarray(j * HASH_CHUNK, (j + 1) * HASH_CHUNK))));
    const done = await Promise.all(digests);
    done.forEach((d, k) => out.set(new Uint8Array(d), (i + k) * LEAF_BYTES));
  }
  return out;
}

/**
 * `chunkMatches` for a run of chunks, off the caller's thread where the
 * platform can (WebCrypto in browsers: a tab receiving a dozen objects at once
 * spent seconds in SHA-256 on its main thread; Node's hash pool: a fast link's
 * receiver hashed 1.5 GB/s on its main thread, between socket reads); elsewhere
 * the synchronous hasher. Returns how many leading chunks match.
 */
export async function chunksMatchingAsync(leaves: Uint8Array, first: number, piece: Uint8Array): Promise<number> {
  if (chunkChecker && shared(piece)) return chunkChecker(leaves, first, piece);
  // All digests at once (WebCrypto runs them on its own threads): one after another, a 1 MiB chunk waited
  // out 16 hops there and back before the next was looked at.
  const n = chunkCount(piece.byteLength);
  const each: Promise<boolean>[] = [];
  for (let k = 0; k < n; k++) each.push(chunkMatchesAsync(leaves, first + k, piece.subarray(k * HASH_CHUNK, (k + 1) * HASH_CHUNK)));
  for (let k = 0; k < n; k++) if (!(await each[k])) return k;
  return n;
}

/** Whether chunk `i` matches its leaf, off the caller's thread where the platform can. */
export async function chunkMatchesAsync(leaves: Uint8Array, i: number, chunk: Uint8Array): Promise<boolean> {
  if (!subtle || chunkHasher !== defaultChunkHasher) {
    return chunkMatches(leaves, i, chunk);
  }
  const o = i * LEAF_BYTES;
  if (o + LEAF_BYTES > leaves.byteLength) return false;
  const h = new Uint8Array(await subtle.digest('SHA-256', digestable(chunk)));
  for (let k = 0; k < LEAF_BYTES; k++) if (h[k] !== leaves[o + k]) return false;
  return true;
}

/** The portable async hasher: 1 MiB of chunks per macrotask, so the page stays responsive. */
async function slicedLeaves(bytes: Uint8Array): Promise<Uint8Array> {
  const n = chunkCount(bytes.byteLength);
  const out = new Uint8Array(n * LEAF_BYTES);
  const perSlice = (1 << 20) / HASH_CHUNK;
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % perSlice === 0) await new Promise((r) => setTimeout(r, 0));
    out.set(chunkHasher(bytes.subarray(i * HASH_CHUNK, (i + 1) * HASH_CHUNK)), i * LEAF_BYTES);
  }
  return out;
}

/** The object hash of bytes that arrive in pieces of any size, in order (the coordinator's relay). */
export class TreeHasher {
  private leaves: Uint8Array[] = [];
  private part = new Uint8Array(HASH_CHUNK);
  private partLen = 0;

  update(d: Uint8Array): this {
    let o = 0;
    while (o < d.byteLength) {
      if (this.partLen === 0 && d.byteLength - o >= HASH_CHUNK) {
        this.leaves.push(chunkHasher(d.subarray(o, o + HASH_CHUNK)));
        o += HASH_CHUNK;
        continue;
      }
      const n = Math.min(HASH_CHUNK - this.partLen, d.byteLength - o);
      this.part.set(d.subarray(o, o + n), this.partLen);
      this.partLen += n;
      o += n;
      if (this.partLen === HASH_CHUNK) {
        this.leaves.push(chunkHasher(this.part));
        this.partLen = 0;
      }
    }
    return this;
  }

  digest(): string {
    if (this.partLen > 0) this.leaves.push(chunkHasher(this.part.subarray(0, this.partLen)));
    this.partLen = 0;
    const all = new Uint8Array(this.leaves.length * LEAF_BYTES);
    this.leaves.forEach((l, i) => all.set(l, i * LEAF_BYTES));
    return rootOf(all);
  }
}
