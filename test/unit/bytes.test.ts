// Object memory (issue 17): large bytes are shared between threads and their
// buffers reused once freed, never while a view of them may be held elsewhere.
import { describe, expect, it } from 'vitest';
import { allocBytes, drainPool, expose, forPosting, recycle } from '../../shared/bytes.js';
import { decodeValue, encodeValue } from '../../shared/codec.js';

describe('object memory', () => {
  it('a freed buffer nobody else saw is reused, zeroed unless the caller writes it all', () => {
    drainPool();
    const a = allocBytes(3 << 20);
    a.fill(7);
    recycle(a);
    const b = allocBytes(3 << 20);
    expect(b.buffer).toBe(a.buffer);
    expect(b[0] + b[b.length - 1]).toBe(0);
    recycle(b);
    const c = allocBytes(3 << 20, true);
    expect(c.buffer).toBe(a.buffer);
  });

  it('a buffer decoded in place, posted to an executor, or exposed is never reused', () => {
    drainPool();
    const enc = encodeValue(new Float64Array(1 << 18).fill(1));
    const view = decodeValue(enc.bytes) as Float64Array;
    recycle(enc.bytes);
    expect(allocBytes(enc.bytes.byteLength).buffer).not.toBe(enc.bytes.buffer);
    expect(view[0]).toBe(1);

    const posted = allocBytes(2 << 20);
    expect(forPosting(posted)).toBe(posted);
    recycle(posted);
    expect(allocBytes(2 << 20).buffer).not.toBe(posted.buffer);

    const sent = allocBytes(2 << 20);
    expose(sent);
    recycle(sent);
    expect(allocBytes(2 << 20).buffer).not.toBe(sent.buffer);
  });

  it('a small argument inside a larger frame is posted alone', () => {
    const frame = new Uint8Array(1 << 20);
    const arg = frame.subarray(100, 110);
    const p = forPosting(arg);
    expect(p.buffer.byteLength).toBe(10);
    const whole = new Uint8Array(10);
    expect(forPosting(whole)).toBe(whole);
  });
});
