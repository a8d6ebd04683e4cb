// The fingerprint a node takes of an argument it lends in place (shared/write-check.ts).
import { describe, expect, it } from 'vitest';
import { EDGE, EXACT_MAX, SAMPLES, fingerprint, unchanged, type Rand } from '../../shared/write-check.js';

/** A seeded generator (mulberry32): the same positions every run. */
function seeded(seed: number): Rand {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 2 ** 32) * n;
  };
}
const rand: Rand = (
  (r: Rand) => (n: number) =>
    Math.floor(r(n))
)(seeded(17));

function doubles(n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = n - i + (i % 7) / 8;
  return a;
}
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('write-check fingerprints', () => {
  it('an object up to EXACT_MAX is compared whole: one byte changed anywhere is seen', () => {
    const b = new Uint8Array(EXACT_MAX).map((_, i) => i * 13);
    const fp = fingerprint(b, false, rand);
    expect(unchanged(b, fp)).toBe(true);
    b[EXACT_MAX >> 1] ^= 1;
    expect(unchanged(b, fp)).toBe(false);
  });

  it("a large object's whole-array writes are seen: sort, fill, set, reverse, and writes at either end", () => {
    const n = (8 << 20) / 8;
    const writes: [string, (a: Float64Array) => void][] = [
      ['sort', (a) => a.sort()],
      ['reverse', (a) => a.reverse()],
      ['fill', (a) => a.fill(0)],
      ['set', (a) => a.set(doubles(n).map((x) => x * 2))],
      ['first', (a) => (a[0] = -1)],
      ['last', (a) => (a[a.length - 1] = -1)],
      ['in the last EDGE bytes', (a) => (a[a.length - EDGE / 8 + 3] = -1)],
    ];
    for (const [name, write] of writes) {
      const a = doubles(n);
      const fp = fingerprint(bytesOf(a), false, rand);
      expect(unchanged(bytesOf(a), fp), name).toBe(true);
      write(a);
      expect(unchanged(bytesOf(a), fp), name).toBe(false);
    }
  });

  it('keeps a bounded sample of a large object, at positions drawn per lend', () => {
    const a = bytesOf(doubles(4 << 20));
    const f1 = fingerprint(a, false, rand);
    const f2 = fingerprint(a, false, rand);
    expect(f1.saved.byteLength).toBe(2 * EDGE + 8 * SAMPLES);
    expect([...f1.spans]).not.toEqual([...f2.spans]);
  });

  it('a write to one word between samples escapes the sampled check and is seen by the exact one', () => {
    const a = doubles(4 << 20);
    const fp = fingerprint(bytesOf(a), false, rand);
    const sampled = new Set<number>();
    for (let k = 4; k < fp.spans.length; k += 2) sampled.add(fp.spans[k] / 8);
    let w = a.length >> 1;
    while (sampled.has(w)) w++;
    const exact = fingerprint(bytesOf(a), true, rand);
    a[w] = -1;
    expect(unchanged(bytesOf(a), fp)).toBe(true);
    expect(unchanged(bytesOf(a), exact)).toBe(false);
    // And one on a sampled word is seen.
    const s = [...sampled][0];
    const b = doubles(4 << 20);
    const fb = fingerprint(bytesOf(b), false, () => s);
    b[s] = -1;
    expect(unchanged(bytesOf(b), fb)).toBe(false);
  });

  it('bytes shorter than what was fingerprinted do not match', () => {
    const a = bytesOf(doubles(1 << 20));
    const fp = fingerprint(a, false, rand);
    expect(unchanged(a.subarray(0, a.byteLength - 8), fp)).toBe(false);
  });
});
