// SHA-256 (FIPS 180-4) of a message that fits one block (at most 55 bytes),
// for the ids a driver or a task derives at every submit (ids.ts childTaskId:
// 20 or 24 bytes). No allocation a call: a hasher object (the portable one) or
// a Node crypto call (OpenSSL's one-shot digest, its Buffer and binding) cost
// 2-4 µs an id on this VM, most of a submit's id; one compression here is a
// few hundred ns (issue 14, session 21). The digest is SHA-256's: ids do not change.

/** The longest message one block holds: 64 bytes less the 0x80 pad and the 8-byte length. */
export const ONE_BLOCK_MAX = 55;

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74,
  0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d,
  0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e,
  0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
  0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const W = new Int32Array(64);
const block = new Uint8Array(64);
/** The final state words (the digest, big-endian). */
const S = new Int32Array(8);

/**
 * SHA-256 of `msg` (at most ONE_BLOCK_MAX bytes) into `out` (32 bytes, or
 * fewer: the digest's first `out.length` bytes), which it returns.
 */
export function sha256OneBlock(msg: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  const n = msg.length;
  if (n > ONE_BLOCK_MAX) throw new RangeError(`sha256OneBlock: ${n} bytes, more than ${ONE_BLOCK_MAX}`);
  block.fill(0);
  block.set(msg);
  block[n] = 0x80;
  // The length in bits, big-endian, in the last 8 bytes (at most 440: two bytes).
  const bits = n * 8;
  block[62] = bits >>> 8;
  block[63] = bits & 0xff;
  for (let i = 0; i < 16; i++) W[i] = (block[4 * i] << 24) | (block[4 * i + 1] << 16) | (block[4 * i + 2] << 8) | block[4 * i + 3];
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15];
    const w2 = W[i - 2];
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = H0[0];
  let b = H0[1];
  let c = H0[2];
  let d = H0[3];
  let e = H0[4];
  let f = H0[5];
  let g = H0[6];
  let h = H0[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  S[0] = a + H0[0];
  S[1] = b + H0[1];
  S[2] = c + H0[2];
  S[3] = d + H0[3];
  S[4] = e + H0[4];
  S[5] = f + H0[5];
  S[6] = g + H0[6];
  S[7] = h + H0[7];
  const len = Math.min(out.length, 32);
  for (let i = 0; i < len; i++) out[i] = (S[i >> 2] >>> (24 - 8 * (i & 3))) & 0xff;
  return out;
}
