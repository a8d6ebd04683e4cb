// Objects are immutable, but JavaScript cannot freeze a typed array: an
// executor reading a large argument in place (issue 17) can write into the
// node's stored bytes (`arr.sort()`, `fill`, `set`, `reverse`). The node takes
// a fingerprint of what it lends and checks it when the task ends, so a write
// is seen and the changed copy dropped before anyone else reads it.
//
// Small objects are saved whole (an exact check costs a copy of at most
// EXACT_MAX bytes). Large ones keep their first and last EDGE bytes (where
// single-element writes and `push`-like idioms land) and SAMPLES 8-byte words
// at positions drawn at random per lend: a write touching a fraction f of the
// words escapes with probability (1 - f)^SAMPLES, under 1e-55 for a whole-array
// sort, fill, set or reverse (f ~ 1 on anything but constant data) and ~0.08
// for a write to 1% of the words. `exact` (TABMESH_CHECK_WRITES=1) saves
// everything whatever the size.

/** Objects up to this size are compared whole. */
export const EXACT_MAX = 256 << 10;
/** Bytes kept at each end of a large object. */
export const EDGE = 4096;
/** Random 8-byte words kept of a large object. */
export const SAMPLES = 256;

/** What was lent, as far as it is checked: byte spans (offset, length pairs) and their bytes then. */
export interface Fingerprint {
  spans: Uint32Array;
  saved: Uint8Array;
}

/** `rand` returns a uniform integer in [0, n) (tests pass a seeded one). */
export type Rand = (n: number) => number;

const cryptoRand: Rand = (() => {
  const buf = new Uint32Array(64);
  let i = buf.length;
  return (n: number) => {
    if (i === buf.length) {
      crypto.getRandomValues(buf);
      i = 0;
    }
    // Objects are below 2^32 bytes here (spans are 32-bit); the modulo bias is below n / 2^32.
    return buf[i++] % n;
  };
})();

/** A fingerprint of `bytes` as they are now. */
export function fingerprint(bytes: Uint8Array, exact = false, rand: Rand = cryptoRand): Fingerprint {
  const n = bytes.byteLength;
  if (exact || n <= EXACT_MAX) return { spans: Uint32Array.of(0, n), saved: bytes.slice() };
  const words = Math.floor(n / 8);
  const spans = new Uint32Array(2 * (2 + SAMPLES));
  spans.set([0, EDGE, n - EDGE, EDGE]);
  const saved = new Uint8Array(2 * EDGE + 8 * SAMPLES);
  saved.set(bytes.subarray(0, EDGE));
  saved.set(bytes.subarray(n - EDGE), EDGE);
  // Byte by byte: a view per 8-byte word (subarray) cost ~1 us each, 10x the copy.
  for (let k = 0, at = 2 * EDGE; k < SAMPLES; k++, at += 8) {
    const off = rand(words) * 8;
    spans[4 + 2 * k] = off;
    spans[5 + 2 * k] = 8;
    for (let j = 0; j < 8; j++) saved[at + j] = bytes[off + j];
  }
  return { spans, saved };
}

/** Whether `bytes` still match `fp` (false also when their length changed). */
export function unchanged(bytes: Uint8Array, fp: Fingerprint): boolean {
  const { spans, saved } = fp;
  let at = 0;
  for (let k = 0; k < spans.length; k += 2) {
    const off = spans[k];
    const len = spans[k + 1];
    if (off + len > bytes.byteLength || !same(bytes, off, saved, at, len)) return false;
    at += len;
  }
  return at === saved.byteLength;
}

interface BufferLike {
  from(b: ArrayBufferLike, offset: number, length: number): { equals(o: Uint8Array): boolean };
}
/** Node's Buffer compares with memcmp: 256 KiB in ~10 us where a JavaScript loop over shared memory took ~200. */
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

function same(a: Uint8Array, ao: number, b: Uint8Array, bo: number, len: number): boolean {
  if (NodeBuffer && len >= 256) return NodeBuffer.from(a.buffer, a.byteOffset + ao, len).equals(b.subarray(bo, bo + len));
  let j = 0;
  // Word by word where both sides are aligned (4x fewer steps).
  if ((a.byteOffset + ao) % 4 === 0 && (b.byteOffset + bo) % 4 === 0 && len >= 64) {
    const wa = new Uint32Array(a.buffer, a.byteOffset + ao, len >>> 2);
    const wb = new Uint32Array(b.buffer, b.byteOffset + bo, len >>> 2);
    for (let w = 0; w < wa.length; w++) if (wa[w] !== wb[w]) return false;
    j = wa.length * 4;
  }
  for (; j < len; j++) if (a[ao + j] !== b[bo + j]) return false;
  return true;
}
