// The value codec (ARCHITECTURE.md "Values"): Errors round-trip; values that
// cannot be sent and bytes that are not a value throw clear errors.
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { TabmeshError } from '../../shared/errors.js';
import { roundTrip, thrown } from '../helpers/codec.js';

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
