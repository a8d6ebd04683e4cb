// KeyRing (coordinator/trust/key-ring.ts): the last N task keys a session was
// given, in typed arrays; checked against a Set and an array doing the same.
import { describe, expect, it } from 'vitest';
import { KeyRing } from '../../coordinator/trust/key-ring.js';
import { seeded as rng } from '../sim/net.js';

/** The reference: a Set of the last `max` distinct keys added. */
function model(max: number) {
  const set = new Set<number>();
  const order: number[] = [];
  return {
    set,
    add(k: number) {
      if (set.has(k)) return;
      if (order.length === max) set.delete(order.shift()!);
      order.push(k);
      set.add(k);
    },
  };
}

describe('KeyRing', () => {
  it('holds the last max distinct keys, like a Set with an eviction order, through growth and wrap-around', () => {
    for (const [max, seed] of [
      [1, 1],
      [5, 2],
      [64, 3],
      [100, 4],
      [1000, 5],
    ]) {
      const r = new KeyRing(max);
      const m = model(max);
      const rand = rng(seed);
      const seen: number[] = [];
      for (let i = 0; i < max * 6; i++) {
        // 48-bit keys; a third repeat a recent one.
        const k = rand() < 0.33 && seen.length > 0 ? seen[seen.length - 1 - Math.floor(rand() * Math.min(seen.length, 2 * max))] : Math.floor(rand() * 2 ** 48);
        seen.push(k);
        r.add(k);
        m.add(k);
        expect(r.size).toBe(m.set.size);
      }
      for (const k of seen) expect(r.has(k)).toBe(m.set.has(k));
      expect(r.has(0)).toBe(m.set.has(0));
    }
  });

  it('keys that share a slot (same low 32 bits) and the key 0 are told apart and evicted in order', () => {
    const max = 40;
    const r = new KeyRing(max);
    const m = model(max);
    // 0, then keys 2^32 apart: all probe from the same home slot, so deletes must shift the chain back.
    const keys = [0, ...Array.from({ length: 150 }, (_, j) => 7 + j * 2 ** 32)];
    for (const k of keys) {
      r.add(k);
      m.add(k);
      for (const q of keys) expect(r.has(q)).toBe(m.set.has(q));
    }
    expect(r.size).toBe(max);
  });

  it('refuses a size under one', () => {
    expect(() => new KeyRing(0)).toThrow(RangeError);
  });
});
