// The wire contract (shared/protocol/): who may send which kind, and the
// checker toolkit the message checkers are made of.
import { describe, expect, it } from 'vitest';
import { arr, bytes, dict, either, id, int, lit, num, obj, opt, str, tagged } from '../../shared/protocol/check.js';
import { DRIVER_SENDS, messageCheck, NODE_SENDS, type MessageKind } from '../../shared/protocol/messages.js';

describe('who may send what', () => {
  it('a node may send everything a driver may, and more', () => {
    for (const k of DRIVER_SENDS) expect(NODE_SENDS.has(k)).toBe(true);
    expect(NODE_SENDS.size).toBeGreaterThan(DRIVER_SENDS.size);
  });

  it('no client may send what only the coordinator sends', () => {
    for (const k of ['welcome', 'ice', 'assign', 'cancelTask', 'free', 'serve', 'ready', 'output'] as MessageKind[]) {
      expect(DRIVER_SENDS.has(k)).toBe(false);
      expect(NODE_SENDS.has(k)).toBe(false);
    }
  });

  it('a driver may not report task results', () => {
    for (const k of ['done', 'failed', 'started', 'heartbeat', 'stored'] as MessageKind[]) expect(DRIVER_SENDS.has(k)).toBe(false);
  });
});

describe('checker toolkit', () => {
  it('each checker accepts its shape and names the path otherwise', () => {
    expect(str(3)('abc', 'p')).toBeNull();
    expect(str(3)('abcd', 'p')).toBe('p: string longer than 3');
    expect(num(1.5, 'p')).toBeNull();
    expect(num('1', 'p')).toBe('p: expected a finite number');
    expect(int(1, 3)(0, 'p')).toMatch(/^p: expected an integer in \[1, 3\]/);
    expect(bytes(2)(new Uint8Array(3), 'p')).toBe('p: 3 bytes, more than 2');
    expect(bytes(2)([1, 2], 'p')).toBe('p: expected bytes');
    expect(id(2)('abcd', 'p')).toBeNull();
    expect(id(2)('abc', 'p')).toMatch(/2-byte hex id/);
    expect(lit('a', 'b')('c', 'p')).toBe('p: expected one of a, b');
    expect(opt(num)(null, 'p')).toBeNull();
    expect(arr(num, 2)([1, 'x'], 'p')).toBe('p[1]: expected a finite number');
    expect(arr(num, 2)([1, 2, 3], 'p')).toBe('p: 3 items, more than 2');
    expect(dict(num, 2)({ a: 1, b: 'x' }, 'p')).toBe('p.b: expected a finite number');
    expect(dict(num, 2)([1], 'p')).toBe('p: expected an object');
    // Own keys only are counted and checked (the dict walks them with for-in, issue 14).
    expect(dict(num, 2)({ a: 1, b: 2, c: 3 }, 'p')).toBe('p: more than 2 keys');
    expect(dict(num, 2)({ a: 1, ['k'.repeat(129)]: 2 }, 'p')).toBe('p: key longer than 128');
    expect(dict(num, 2)(Object.assign(Object.create({ inherited: 'x', more: 1 }) as object, { a: 1, b: 2 }), 'p')).toBeNull();
    expect(obj({ a: num })(new Uint8Array(1), 'p')).toBe('p: expected an object');
    expect(obj({ a: num })({}, 'p')).toBe('p.a: expected a finite number');
    const t = tagged('k', { x: obj({ k: lit('x'), n: num }) });
    expect(t({ k: 'x', n: 1 }, 'p')).toBeNull();
    expect(t({ k: 'y' }, 'p')).toBe('p.k: unknown kind "y"');
    expect(t({ k: 'constructor' }, 'p')).toMatch(/unknown kind/);
    // either reports the first shape's fault when neither fits.
    expect(either(obj({ a: num }), obj({ b: num }))({ c: 1 }, 'p')).toBe('p.a: expected a finite number');
  });

  it('a huge unknown kind name is cut short in the message', () => {
    const msg = messageCheck({ t: 'x'.repeat(10_000) }, 'm');
    expect(msg).toMatch(/unknown kind/);
    expect(msg!.length).toBeLessThan(100);
  });
});
