// Tiny inline values on record (coordinator/objects/small-values.ts): the same
// few bytes share one copy of their own, never a view into the frame they came in.
import { describe, expect, it } from 'vitest';
import { sharedValue } from '../../coordinator/objects/small-values.js';
import { encodeValue } from '../../shared/codec.js';

/** A value as the decoder hands it out: a view into a larger frame buffer. */
function inFrame(bytes: Uint8Array, at = 100): Uint8Array {
  const frame = new Uint8Array(4096);
  frame.set(bytes, at);
  return frame.subarray(at, at + bytes.byteLength);
}

describe('sharedValue', () => {
  it('gives one own copy for equal tiny values, equal to them and apart from their frames', () => {
    const undef = encodeValue(undefined).bytes;
    const a = sharedValue(inFrame(undef));
    const b = sharedValue(inFrame(undef, 7));
    expect(a).toBe(b);
    expect([...a]).toEqual([...undef]);
    expect(a.buffer.byteLength).toBe(undef.byteLength);
  });

  it('tells apart values that differ in a byte or in length (zero bytes included)', () => {
    const vals = [[], [0], [0, 0], [1], [0, 1], [1, 0], [255, 255, 255, 255, 255, 255], [0, 0, 0, 0, 0, 0]].map((x) => new Uint8Array(x));
    const out = vals.map((v) => sharedValue(inFrame(v)));
    expect(new Set(out).size).toBe(vals.length);
    out.forEach((o, i) => expect([...o]).toEqual([...vals[i]]));
  });

  it('leaves larger values as they are', () => {
    const v = inFrame(encodeValue('a string of some length').bytes);
    expect(sharedValue(v)).toBe(v);
  });

  it('keeps answering right when many distinct values pass (the table starts over)', () => {
    for (let i = 0; i < 10_000; i++) {
      const v = new Uint8Array([i & 255, (i >> 8) & 255, 7]);
      expect([...sharedValue(inFrame(v))]).toEqual([...v]);
    }
  });
});
