// Object contents a test makes and checks inside tasks: self-contained
// functions (no outer variables), so they ship as remote functions.

/** `n` bytes of xorshift32 from `seed`. */
export function fill(n: number, seed: number): Uint8Array {
  const x = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = s & 255;
  }
  return x;
}

/** [length, FNV-1a of every byte]. */
export function checksum(x: Uint8Array): [number, number] {
  let h = 0x811c9dc5;
  for (let i = 0; i < x.length; i++) h = Math.imul(h ^ x[i], 0x01000193);
  return [x.length, h >>> 0];
}
