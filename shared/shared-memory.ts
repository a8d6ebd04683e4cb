// Which memory object bytes live in, and copies into and out of it (issue 17;
// the pool that hands it out and takes it back is shared/bytes.ts). Where
// threads can share memory (Node's
// worker_threads; browsers when the page is cross-origin isolated, as the
// volunteer page is, and the embed frame inside other sites' pages is not),
// large object bytes live in a SharedArrayBuffer: posting them to an executor
// then shares them instead of copying. Elsewhere, plain memory.
// Objects are immutable, so sharing is safe as long as nobody writes to them.
// What refuses shared memory (WebCrypto, IndexedDB, transfer lists) gets a
// copy of its own at its edge (`ownBuffer`).

/** Asked of the context at runtime, never assumed: a page is isolated only when its headers and its embedders' allow it. */
const sharable =
  typeof SharedArrayBuffer === 'function' &&
  (typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string' ||
    (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true);

/** Below this, plain memory: small values are cheaper to copy than to share. */
export const SHARE_MIN_BYTES = 64 * 1024;

/** Whether `allocBytes` hands out shared memory here. */
export function sharedMemory(): boolean {
  return sharable;
}

export function isShared(bytes: ArrayBufferView): boolean {
  return typeof SharedArrayBuffer === 'function' && bytes.buffer instanceof SharedArrayBuffer;
}

/** Bytes per step of an unaligned copy into shared memory where there is no Buffer (browsers). */
const ALIGN_STEP = 64 * 1024;
let alignScratch: Uint8Array | null = null;

/**
 * `dst.set(src, at)`, but into shared memory by one memcpy where Node's Buffer
 * is there: TypedArray.set copies into a SharedArrayBuffer with relaxed
 * atomics, byte by byte when the two sides are not aligned alike (bytes off a
 * socket or out of a frame land anywhere): 6x a plain copy. Buffer.fill with a
 * value as long as the range is one memcpy. Browsers (a cross-origin isolated
 * tab, issue 17) have no Buffer: unaligned bytes go through an aligned copy
 * first, 64 KiB at a time (V8 here: 0.10 ms per MiB against 0.43-0.62).
 */
export function copyInto(dst: Uint8Array, at: number, src: Uint8Array): void {
  if (src.byteLength < 4096 || !isShared(dst)) return dst.set(src, at);
  const B = (globalThis as { Buffer?: { from(b: ArrayBufferLike, o: number, n: number): { fill(v: Uint8Array): unknown } } }).Buffer;
  if (B) {
    B.from(dst.buffer, dst.byteOffset + at, src.byteLength).fill(src);
    return;
  }
  if (((dst.byteOffset + at) ^ src.byteOffset) % 8 === 0) return dst.set(src, at);
  alignScratch ??= new Uint8Array(ALIGN_STEP + 8);
  for (let o = 0; o < src.byteLength; o += ALIGN_STEP) {
    const part = src.subarray(o, o + ALIGN_STEP);
    // The scratch view starts where the destination does, modulo 8: the second copy is word by word.
    const k = (dst.byteOffset + at + o) % 8;
    const via = alignScratch.subarray(k, k + part.byteLength);
    via.set(part);
    dst.set(via, at + o);
  }
}

/** `bytes` in memory of their own that can be put in a transfer list (a copy when they are shared or a view of more). */
export function ownBuffer(bytes: Uint8Array): Uint8Array {
  if (!isShared(bytes) && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength) return bytes;
  return bytes.slice();
}
