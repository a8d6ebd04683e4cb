// The value codec (ARCHITECTURE.md "Values"): one codec everywhere, keeping
// what structured clone keeps plus Errors and ObjectRefs, whose ids are
// collected while encoding. Binary data and raw values are in
// codec-binary.test.ts, errors and what cannot be sent or decoded in
// codec-errors.test.ts.
import { describe, expect, it } from 'vitest';
import { ObjectRef } from '../../shared/api/ref.js';
import { decodeValue, encodeValue, UNDEFINED_BYTES } from '../../shared/codec.js';
import { childTaskId, putObjectId, returnObjectId, rootTaskId, type JobId, type ObjectId } from '../../shared/ids.js';
import { roundTrip } from '../helpers/codec.js';

const ROOT = rootTaskId('00112233aabbccdd' as JobId);
const oid = (i: number): ObjectId => returnObjectId(childTaskId(ROOT, i), 0);

describe('numbers', () => {
  it('integers and floats of every size round-trip', () => {
    for (const n of [
      0,
      1,
      -1,
      127,
      128,
      -32,
      -33,
      255,
      256,
      65535,
      65536,
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 32,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      0.5,
      -1.25,
      Math.PI,
      1e-300,
      1.7976931348623157e308,
      Number.MIN_VALUE,
    ]) {
      expect(roundTrip(n)).toBe(n);
    }
  });

  it('NaN and the infinities round-trip', () => {
    expect(roundTrip(NaN)).toBeNaN();
    expect(roundTrip(Infinity)).toBe(Infinity);
    expect(roundTrip(-Infinity)).toBe(-Infinity);
    expect(roundTrip([NaN, Infinity])).toEqual([NaN, Infinity]);
  });

  it('-0 comes back as 0 (known limit: msgpack packs it as the integer 0)', () => {
    // Asserted so that a change of behaviour is noticed.
    expect(Object.is(roundTrip(-0), 0)).toBe(true);
    expect(Object.is(roundTrip({ z: -0 }).z, 0)).toBe(true);
  });
});

describe('strings', () => {
  it('ascii, unicode, astral, NUL and long strings round-trip', () => {
    for (const s of ['', 'a', 'héllo wörld', '中文字符', '😀👍🏽 family: 👨‍👩‍👧', 'nul\u0000inside', 'e\u0301', '\ud7ff\ue000', 'x'.repeat(100_000)]) {
      expect(roundTrip(s)).toBe(s);
    }
  });

  it('unicode keys of objects round-trip', () => {
    expect(roundTrip({ ключ: 1, '😀': [2], '': 3 })).toEqual({ ключ: 1, '😀': [2], '': 3 });
  });
});

describe('structures', () => {
  it('nested objects and arrays round-trip', () => {
    const v = { a: [1, [2, [3, { b: 'c', d: [true, false, null] }]]], e: { f: { g: { h: [] as unknown[] } } }, i: {} };
    expect(roundTrip(v)).toEqual(v);
  });

  it('many objects of the same shape and of different shapes keep their fields', () => {
    const v = Array.from({ length: 100 }, (_, i) => (i % 3 === 0 ? { x: i, y: String(i) } : i % 3 === 1 ? { y: i, x: String(i) } : { z: i }));
    expect(roundTrip(v)).toEqual(v);
  });

  it('undefined inside objects and arrays survives, keys included', () => {
    const v = roundTrip({ a: undefined, b: [1, undefined, 3], c: 1 });
    expect('a' in v).toBe(true);
    expect(v.a).toBeUndefined();
    expect(v.b).toHaveLength(3);
    expect(v.b[1]).toBeUndefined();
    expect(v.c).toBe(1);
  });

  it('undefined by itself round-trips (the result of a task that returns nothing)', () => {
    expect(roundTrip(undefined)).toBeUndefined();
    expect(decodeValue(UNDEFINED_BYTES)).toBeUndefined();
    expect(roundTrip(null)).toBeNull();
  });

  it('a Map with object keys keeps the keys as objects and the key order', () => {
    const k1 = { id: 1 };
    const k2 = [2, 3];
    const m = new Map<unknown, unknown>([
      [k1, 'one'],
      ['s', k1],
      [k2, new Map([[1, 2]])],
      [4, null],
    ]);
    const r = roundTrip(m);
    expect(r).toBeInstanceOf(Map);
    const keys = [...r.keys()];
    expect(keys).toEqual([{ id: 1 }, 's', [2, 3], 4]);
    // The key object and the value that refers to it are one object after decoding.
    expect(r.get('s')).toBe(keys[0]);
    expect(r.get(keys[0])).toBe('one');
    expect(r.get(keys[2])).toEqual(new Map([[1, 2]]));
  });

  it('a Map stays a Map and a plain object stays an object', () => {
    const r = roundTrip({ m: new Map([['a', 1]]), o: { a: 1 } });
    expect(r.m).toBeInstanceOf(Map);
    expect(r.o).not.toBeInstanceOf(Map);
    expect(Object.getPrototypeOf(r.o)).toBe(Object.prototype);
  });

  it('a Set keeps its items and their order', () => {
    const r = roundTrip(new Set([3, 'a', { z: 1 }, 1]));
    expect(r).toBeInstanceOf(Set);
    expect([...r]).toEqual([3, 'a', { z: 1 }, 1]);
  });

  it('Dates round-trip to the millisecond, invalid dates stay invalid', () => {
    const d = new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789));
    const r = roundTrip(d);
    expect(r).toBeInstanceOf(Date);
    expect(r.getTime()).toBe(d.getTime());
    expect(roundTrip(new Date(-1e12)).getTime()).toBe(-1e12);
    expect(Number.isNaN(roundTrip(new Date(NaN)).getTime())).toBe(true);
  });

  it('cycles come back as cycles', () => {
    const o: Record<string, unknown> = { name: 'root' };
    o.self = o;
    o.list = [o];
    const r = roundTrip(o);
    expect(r.self).toBe(r);
    expect((r.list as unknown[])[0]).toBe(r);

    const a: unknown[] = [1];
    a.push(a);
    const ra = roundTrip(a);
    expect(ra[1]).toBe(ra);
  });

  it('a sub-object shared by two parents is one object after decoding', () => {
    const shared = { v: 1 };
    const arr = [9];
    const r = roundTrip({ a: shared, b: shared, c: [shared, arr], d: arr, m: new Map([['k', shared]]) });
    expect(r.a).toBe(r.b);
    expect(r.c[0]).toBe(r.a);
    expect(r.c[1]).toBe(r.d);
    expect(r.m.get('k')).toBe(r.a);
  });
});

describe('BigInt', () => {
  it('small, 64-bit edge, huge and negative values round-trip as bigints', () => {
    for (const b of [0n, 5n, -5n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 70n), 2n ** 200n + 7n, -(3n ** 300n)]) {
      const r = roundTrip(b);
      expect(typeof r).toBe('bigint');
      expect(r).toBe(b);
    }
  });

  it('a bigint inside a structure stays a bigint, next to a number of the same value', () => {
    const r = roundTrip({ big: 7n, num: 7, list: [1n, -(2n ** 100n)] });
    expect(r.big).toBe(7n);
    expect(r.num).toBe(7);
    expect(r.list).toEqual([1n, -(2n ** 100n)]);
  });
});

describe('ObjectRefs inside values', () => {
  const a = new ObjectRef(oid(1));
  const b = new ObjectRef(oid(2));
  const c = new ObjectRef(putObjectId(ROOT, 0));

  it('a value without refs has none', () => {
    expect(encodeValue({ x: [1, 'two', new Map()] }).refs).toEqual([]);
    expect(encodeValue(5).refs).toEqual([]);
  });

  it('a top-level ref is collected and comes back as a ref', () => {
    const enc = encodeValue(a);
    expect(enc.refs).toEqual([a.id]);
    const r = decodeValue(enc.bytes);
    expect(r).toBeInstanceOf(ObjectRef);
    expect((r as ObjectRef).id).toBe(a.id);
  });

  it('refs nested anywhere are collected once each, in first-seen order', () => {
    const err = new Error('holds a ref', { cause: c });
    const value = {
      x: a,
      list: [a, b, [[a]]],
      m: new Map<unknown, unknown>([
        [b, 'ref as a key'],
        ['k', c],
      ]),
      s: new Set([a, b]),
      err,
    };
    const enc = encodeValue(value);
    expect(enc.refs).toEqual([a.id, b.id, c.id]);
  });

  it('refs come back through the factory, wherever they were', () => {
    const made: ObjectId[] = [];
    const factory = (id: ObjectId): ObjectRef => {
      made.push(id);
      return new ObjectRef(id);
    };
    const enc = encodeValue({ x: a, list: [b], m: new Map([[c, 1]]), e: new Error('e', { cause: a }) });
    const r = decodeValue(enc.bytes, factory) as { x: ObjectRef; list: ObjectRef[]; m: Map<ObjectRef, number>; e: Error };
    expect(r.x.id).toBe(a.id);
    expect(r.list[0].id).toBe(b.id);
    expect([...r.m.keys()][0].id).toBe(c.id);
    expect((r.e.cause as ObjectRef).id).toBe(a.id);
    expect(new Set(made)).toEqual(new Set([a.id, b.id, c.id]));
    // The factory serves that call only: the next decode makes plain ObjectRefs.
    const before = made.length;
    expect(decodeValue(encodeValue(b).bytes)).toBeInstanceOf(ObjectRef);
    expect(made.length).toBe(before);
  });

  it('the factory is put back even when decoding throws', () => {
    const factory = (): ObjectRef => {
      throw new Error('must not be called');
    };
    expect(() => decodeValue(new Uint8Array([0x93, 1]), factory)).toThrow();
    expect(decodeValue(encodeValue(a).bytes)).toBeInstanceOf(ObjectRef);
  });

  it('an encode inside an encode (a factory or hook) does not mix up ref lists', () => {
    const outer = encodeValue({ inner: encodeValue({ r: b }).bytes, r: a });
    expect(outer.refs).toEqual([a.id]);
  });

  it('collection does not leak across calls, even after a failed encode', () => {
    expect(() => encodeValue({ r: a, f: () => 1 })).toThrow();
    expect(encodeValue({ n: 1 }).refs).toEqual([]);
    expect(encodeValue({ r: b }).refs).toEqual([b.id]);
  });
});
