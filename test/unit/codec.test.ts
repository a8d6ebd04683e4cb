// The value codec (ARCHITECTURE.md "Values"): one codec everywhere, keeping
// what structured clone keeps plus Errors and ObjectRefs, whose ids are
// collected while encoding.
import { describe, expect, it } from 'vitest';
import { ObjectRef } from '../../shared/api/ref.js';
import { decodeValue, encodeValue, UNDEFINED_BYTES } from '../../shared/codec.js';
import { TabmeshError } from '../../shared/errors.js';
import { childTaskId, putObjectId, returnObjectId, rootTaskId, type JobId, type ObjectId } from '../../shared/ids.js';

const ROOT = rootTaskId('00112233aabbccdd' as JobId);
const oid = (i: number): ObjectId => returnObjectId(childTaskId(ROOT, i), 0);

function roundTrip<T>(v: T): T {
  return decodeValue(encodeValue(v).bytes) as T;
}

/** Catches what `fn` throws (fails the test when nothing is thrown). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

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

describe('binary data', () => {
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

describe('errors', () => {
  const builtins = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError] as const;

  for (const Cls of builtins) {
    it(`a ${Cls.name} keeps its class, name, message and stack`, () => {
      const e = new Cls('it broke: é');
      const r = roundTrip(e);
      expect(r).toBeInstanceOf(Cls);
      expect(r.name).toBe(Cls.name);
      expect(r.message).toBe('it broke: é');
      expect(r.stack).toBe(e.stack);
    });
  }

  it('a cause (an error, or any value) and a custom code survive', () => {
    const inner = new RangeError('inner');
    const e = new TypeError('outer', { cause: inner }) as TypeError & { code?: unknown };
    e.code = 'E_OUTER';
    const r = roundTrip(e) as TypeError & { code?: unknown };
    expect(r).toBeInstanceOf(TypeError);
    expect(r.code).toBe('E_OUTER');
    expect(r.cause).toBeInstanceOf(RangeError);
    expect((r.cause as Error).message).toBe('inner');
    expect((r.cause as Error).stack).toBe(inner.stack);

    const r2 = roundTrip(new Error('x', { cause: { status: 503, body: [1, 2] } }));
    expect(r2.cause).toEqual({ status: 503, body: [1, 2] });
    const r3 = roundTrip(Object.assign(new Error('x'), { code: 42 }));
    expect(r3.code).toBe(42);
  });

  it('an error without cause or code has neither after decoding', () => {
    const r = roundTrip(new Error('plain'));
    expect('cause' in r).toBe(false);
    expect('code' in r).toBe(false);
  });

  it('a custom-named error subclass keeps its name (its class becomes Error)', () => {
    class QuotaExceeded extends Error {
      override name = 'QuotaExceeded';
    }
    const r = roundTrip(new QuotaExceeded('too much'));
    expect(r).toBeInstanceOf(Error);
    expect(r.name).toBe('QuotaExceeded');
    expect(r.message).toBe('too much');
    expect(String(r.stack)).toContain('too much');
  });

  it("tabmesh's own errors keep their name and code", () => {
    const e = new TabmeshError('BAD_ARGUMENT', 'nope');
    const r = roundTrip(e) as Error & { code?: unknown };
    expect(r.name).toBe('TabmeshError');
    expect(r.code).toBe('BAD_ARGUMENT');
    expect(r.message).toBe('nope');
  });

  it('an error nested in a structure, shared twice, or its own cause keeps identity', () => {
    const e = new Error('shared');
    const r = roundTrip({ a: e, list: [e] });
    expect(r.a).toBeInstanceOf(Error);
    expect(r.list[0]).toBe(r.a);

    const self = new Error('loop') as Error & { cause?: unknown };
    self.cause = self;
    const rs = roundTrip(self);
    expect(rs.cause).toBe(rs);

    const holder: Record<string, unknown> = {};
    holder.err = new Error('back', { cause: holder });
    const rh = roundTrip(holder);
    expect((rh.err as Error).cause).toBe(rh);
  });

  it('other own properties of an error are not carried (documented: name, message, stack, cause, code)', () => {
    const r = roundTrip(Object.assign(new Error('x'), { extra: 5 })) as Error & { extra?: number };
    expect(r.extra).toBeUndefined();
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

describe('values that cannot be sent', () => {
  it('a function anywhere throws NOT_SERIALIZABLE naming its path', () => {
    const cases: Array<[unknown, RegExp]> = [
      [() => 1, /the value itself/],
      [{ f: () => 1 }, /at \.f\b/],
      [{ a: { b: [1, { c: function named() {} }] } }, /at \.a\.b\[1\]\.c\b/],
      [[0, 1, async () => 2], /at \[2\]/],
      [new Map([['k', () => 1]]), /\.get\(/],
      [new Map([[() => 1, 'v']]), /<key>/],
      [new Set([() => 1]), /<item>/],
      [{ deep: new Map([['x', { y: [class Foo {}] }]]) }, /\.deep/],
    ];
    for (const [value, path] of cases) {
      const e = thrown(() => encodeValue(value));
      expect(e).toBeInstanceOf(TabmeshError);
      expect(e.code).toBe('NOT_SERIALIZABLE');
      expect(e.message).toMatch(/function/);
      expect(e.message).toMatch(path);
    }
  });

  it('a function in a cyclic value is still found', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    o.later = { f: () => 1 };
    const e = thrown(() => encodeValue(o));
    expect(e.code).toBe('NOT_SERIALIZABLE');
    expect(e.message).toMatch(/\.later\.f/);
  });

  // BUG: shared/codec.ts encodeValue runs packr.pack before checkSerializable,
  // and msgpackr throws its own plain Error ("Unknown type: symbol", no code,
  // no path) on a symbol, so symbols never get NOT_SERIALIZABLE.
  it('a symbol anywhere throws NOT_SERIALIZABLE naming its path', () => {
    const cases: Array<[unknown, RegExp]> = [
      [Symbol('top'), /the value itself/],
      [{ s: Symbol('x') }, /at \.s\b/],
      [[1, [Symbol.iterator]], /at \[1\]\[0\]/],
      [new Set([Symbol('i')]), /<item>/],
    ];
    for (const [value, path] of cases) {
      const e = thrown(() => encodeValue(value));
      expect(e.code).toBe('NOT_SERIALIZABLE');
      expect(e.message).toMatch(/symbol/);
      expect(e.message).toMatch(path);
    }
  });

  it('a symbol is refused today, though not with NOT_SERIALIZABLE (see the BUG above)', () => {
    // Pins today's behaviour so the fix shows up: encoding does throw.
    expect(() => encodeValue({ s: Symbol('x') })).toThrow(/symbol/);
  });

  // BUG: shared/codec.ts checkSerializable does not look inside Errors, and the
  // Error extension copies `cause`/`code` as they are: msgpackr then drops a
  // function there silently, so the error arrives without its cause or code.
  it('a function in an error cause or code throws NOT_SERIALIZABLE', () => {
    const withCause = new Error('x', { cause: () => 1 });
    expect(thrown(() => encodeValue(withCause)).code).toBe('NOT_SERIALIZABLE');
    const withCode = Object.assign(new Error('y'), { code: () => 2 });
    expect(thrown(() => encodeValue({ e: withCode })).code).toBe('NOT_SERIALIZABLE');
  });

  it('symbol-keyed properties are ignored, as structured clone does', () => {
    const r = roundTrip({ [Symbol('hidden')]: 1, a: 2 });
    expect(r).toEqual({ a: 2 });
    expect(Object.getOwnPropertySymbols(r)).toEqual([]);
  });
});

describe('decoding bytes that are not a value', () => {
  it('empty, truncated and trailing-garbage inputs throw', () => {
    expect(() => decodeValue(new Uint8Array(0))).toThrow();
    const good = encodeValue({ a: [1, 2, 3], m: new Map([[1, 'x']]), s: 'hello', d: new Date(0) }).bytes;
    for (let n = 0; n < good.length; n++) expect(() => decodeValue(good.subarray(0, n))).toThrow();
    const trailing = new Uint8Array(good.length + 2);
    trailing.set(good);
    expect(() => decodeValue(trailing)).toThrow();
    expect(() => decodeValue(new TextEncoder().encode('hello world, not msgpack'))).toThrow();
  });

  it('an unknown or malformed extension throws', () => {
    expect(() => decodeValue(new Uint8Array([0xd4, 0x72, 0x00]))).toThrow();
    expect(() => decodeValue(new Uint8Array([0xd6, 0x30, 1, 2, 3, 4]))).toThrow();
    expect(() => decodeValue(new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]))).toThrow(); // array of 4G items, no data
  });

  it('random bytes never hang: they throw or decode to plain msgpack scalars', () => {
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const started = Date.now();
    let threw = 0;
    let tried = 0;
    for (let i = 0; i < 3000; i++) {
      const b = new Uint8Array(1 + Math.floor(rnd() * 64));
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
      if (b.includes(0xc1)) continue; // see the 0xc1 BUG below
      tried++;
      try {
        const v = decodeValue(b);
        // A short valid msgpack scalar (e.g. a fixint) is a value, not garbage.
        expect(['number', 'string', 'boolean', 'bigint', 'undefined', 'object']).toContain(typeof v);
      } catch {
        threw++;
      }
    }
    expect(threw / tried).toBeGreaterThan(0.95);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('the codec still works after decoding garbage', () => {
    for (const g of [
      [0xd6, 0x30, 1, 2, 3, 4],
      [0xff, 0xff],
      [0x93, 1],
    ]) {
      try {
        decodeValue(new Uint8Array(g));
      } catch {
        /* expected */
      }
    }
    const k = { k: 1 };
    const r = roundTrip({ m: new Map([[k, k]]), e: new Error('ok') });
    expect([...r.m.keys()][0]).toBe(r.m.get([...r.m.keys()][0]));
    expect(r.e.message).toBe('ok');
  });

  // The reserved byte 0xc1 as a whole value is refused; nested inside a value
  // msgpackr yields its C1Type marker, which only a full walk would find (not done).
  it('the reserved byte 0xc1 is refused', () => {
    expect(() => decodeValue(new Uint8Array([0xc1]))).toThrow();
    expect((decodeValue(new Uint8Array([0x91, 0xc1])) as object[])[0].constructor.name).toBe('C1Type');
  });
});

// Issue 17: an ArrayBuffer or typed array by itself is stored as its bytes
// after an 8-byte header, not re-encoded.
describe('raw values', () => {
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
