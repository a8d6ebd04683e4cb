// The value codec (ARCHITECTURE.md "Values"): typed arrays, ArrayBuffers and
// DataViews inside values, and raw values (one by itself, stored as its bytes).
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { roundTrip, thrown } from '../helpers/codec.js';

/** Every typed array kind. */
const kinds = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

describe('binary data', () => {
  for (const Kind of kinds) {
    it(`a ${Kind.name} keeps its kind and contents`, () => {
      const big = Kind === BigInt64Array || Kind === BigUint64Array;
      const a = new Kind(5) as unknown as { [i: number]: number | bigint; length: number };
      for (let i = 0; i < a.length; i++) a[i] = big ? BigInt(i * 1000 + 1) : i * 31 + 1;
      const r = roundTrip(a);
      expect(r).toBeInstanceOf(Kind);
      expect(r.constructor).toBe(Kind);
      expect(Array.from(r as unknown as ArrayLike<unknown>)).toEqual(Array.from(a as unknown as ArrayLike<unknown>));
    });
  }

  it('a typed array that views part of a larger buffer carries only its view', () => {
    const buf = new ArrayBuffer(64);
    const view = new Uint16Array(buf, 8, 3);
    view.set([7, 8, 9]);
    const r = roundTrip(view);
    expect(r).toBeInstanceOf(Uint16Array);
    expect(Array.from(r)).toEqual([7, 8, 9]);
    expect(r.byteLength).toBe(6);
    expect(encodeValue(view).bytes.byteLength).toBeLessThan(64);
  });

  it('an empty typed array round-trips', () => {
    const r = roundTrip(new Float64Array(0));
    expect(r).toBeInstanceOf(Float64Array);
    expect(r.length).toBe(0);
  });

  it('an ArrayBuffer round-trips as an ArrayBuffer', () => {
    const ab = new Uint8Array([1, 2, 3, 250]).buffer;
    const r = roundTrip(ab);
    expect(r).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Uint8Array(r))).toEqual([1, 2, 3, 250]);
  });

  it('a DataView round-trips as a DataView', () => {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setUint32(0, 0xdeadbeef);
    dv.setInt16(4, -2);
    const r = roundTrip(dv);
    expect(r).toBeInstanceOf(DataView);
    expect(r.byteLength).toBe(8);
    expect(r.getUint32(0)).toBe(0xdeadbeef);
    expect(r.getInt16(4)).toBe(-2);
  });

  it('a large Uint8Array keeps every byte', () => {
    const a = new Uint8Array(300_000);
    for (let i = 0; i < a.length; i++) a[i] = (i * 7) & 0xff;
    const r = roundTrip(a);
    expect(r.byteLength).toBe(a.byteLength);
    expect(Buffer.compare(Buffer.from(r), Buffer.from(a))).toBe(0);
  });

  it('binary data nested in structures round-trips', () => {
    const r = roundTrip({ img: new Uint8ClampedArray([1, 2]), ws: [new Float32Array([0.5])], ab: new ArrayBuffer(2) });
    expect(r.img).toBeInstanceOf(Uint8ClampedArray);
    expect(r.ws[0]).toBeInstanceOf(Float32Array);
    expect(r.ab).toBeInstanceOf(ArrayBuffer);
  });
});

// Issue 17: an ArrayBuffer or typed array by itself is stored as its bytes
// after an 8-byte header, not re-encoded.
describe('raw values', () => {
  it('every typed array kind round-trips byte for byte, as its class, stored as its bytes plus a header', () => {
    for (const Ctor of kinds) {
      const src = new Uint8Array(8 * 1000);
      for (let i = 0; i < src.length; i++) src[i] = (i * 131 + 7) & 0xff;
      const v = new Ctor(src.buffer);
      const enc = encodeValue(v);
      expect(enc.bytes.byteLength).toBe(8 + src.byteLength);
      expect(Array.from(enc.bytes.subarray(8))).toEqual(Array.from(src));
      const r = decodeValue(enc.bytes) as ArrayBufferView;
      expect(r.constructor).toBe(Ctor);
      expect(Array.from(new Uint8Array(r.buffer, r.byteOffset, r.byteLength))).toEqual(Array.from(src));
    }
  });

  it('large values at any byte offset are copied into shared memory byte for byte (copyInto)', () => {
    for (const off of [0, 1, 3, 5]) {
      const whole = new Uint8Array(300_000 + off);
      for (let i = 0; i < whole.length; i++) whole[i] = (i * 2654435761) >>> 24;
      const src = whole.subarray(off);
      const raw = encodeValue(src);
      expect(Buffer.from(raw.bytes.subarray(8)).equals(Buffer.from(src))).toBe(true);
      const packed = encodeValue({ a: src, s: 'x' });
      const back = decodeValue(packed.bytes) as { a: Uint8Array };
      expect(Buffer.from(back.a).equals(Buffer.from(src))).toBe(true);
    }
  });

  it('NaN payloads and -0 in float arrays keep their exact bits', () => {
    const bits = new Uint32Array([0x7fc00001, 0xffffffff, 0x80000000, 0x7f800000]);
    const r = roundTrip(new Float32Array(bits.buffer));
    expect(Array.from(new Uint32Array(r.buffer, r.byteOffset, r.length))).toEqual(Array.from(bits));
  });

  it('an ArrayBuffer, a DataView and a view of part of a larger buffer round-trip', () => {
    const ab = new Uint8Array([9, 8, 7]).buffer;
    const r = roundTrip(ab);
    expect(r).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Uint8Array(r))).toEqual([9, 8, 7]);
    const dv = roundTrip(new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer, 1, 3));
    expect(dv).toBeInstanceOf(DataView);
    expect([dv.getUint8(0), dv.getUint8(2), dv.byteLength]).toEqual([2, 4, 3]);
    const big = new Float64Array(100).map((_, i) => i);
    const part = roundTrip(big.subarray(10, 13));
    expect(Array.from(part)).toEqual([10, 11, 12]);
    expect(encodeValue(big.subarray(10, 13)).bytes.byteLength).toBe(8 + 24);
  });

  it('the put copies: changing the array afterwards does not change the stored value', () => {
    const a = new Int32Array([1, 2, 3]);
    const enc = encodeValue(a);
    a[0] = 99;
    expect(Array.from(decodeValue(enc.bytes) as Int32Array)).toEqual([1, 2, 3]);
  });

  it('a typed array is read in place when aligned, and copied when not', () => {
    const enc = encodeValue(new Float64Array([1.5, 2.5]));
    const r = decodeValue(enc.bytes) as Float64Array;
    expect(r.buffer).toBe(enc.bytes.buffer);
    // The same bytes one byte further into a buffer: Float64 cannot view them there.
    const shifted = new Uint8Array(enc.bytes.byteLength + 1).subarray(1);
    shifted.set(enc.bytes);
    const c = decodeValue(shifted) as Float64Array;
    expect(Array.from(c)).toEqual([1.5, 2.5]);
    expect(c.buffer).not.toBe(shifted.buffer);
  });

  it('large values live in shared memory on Node (posted to executors without a copy)', () => {
    expect(encodeValue(new Uint8Array(1 << 20)).bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(encodeValue({ big: 'x'.repeat(1 << 17) }).bytes.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(encodeValue(new Uint8Array(10)).bytes.buffer).toBeInstanceOf(ArrayBuffer);
    // Decoding from shared memory works for the general codec too.
    expect((decodeValue(encodeValue({ big: 'é'.repeat(1 << 16), n: [1, 2] }).bytes) as { n: number[] }).n).toEqual([1, 2]);
  });

  it('a Buffer and typed arrays nested in a structure keep the general path', () => {
    const enc = encodeValue({ a: new Uint16Array([1, 2]) });
    expect(enc.bytes[0]).not.toBe(0xc1);
    expect(Array.from((decodeValue(enc.bytes) as { a: Uint16Array }).a)).toEqual([1, 2]);
  });

  it('malformed raw headers are refused', () => {
    const bad = (b: number[]) => thrown(() => decodeValue(new Uint8Array(b))).code;
    expect(bad([0xc1, 0x74, 13, 0, 0, 0, 0, 0])).toBe('BAD_MESSAGE'); // unknown kind
    expect(bad([0xc1, 0x00, 2, 0, 0, 0, 0, 0])).toBe('BAD_MESSAGE'); // wrong tag
    expect(bad([0xc1, 0x74, 9, 0, 0, 0, 0, 0, 1, 2, 3])).toBe('BAD_MESSAGE'); // 3 bytes of Float64
  });
});
