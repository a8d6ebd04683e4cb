// An object's holders (coordinator/objects/holders.ts): a field for the one
// holder of the common case, a Set past one; either way it answers as a set
// of sessions in the order they came.
import { describe, expect, it } from 'vitest';
import { Holders, NO_HOLDERS } from '../../coordinator/objects/holders.js';
import { fakeSession } from '../helpers/node-record.js';

const [a, b, c] = ['a', 'b', 'c'].map((l) => fakeSession(l));

describe('Holders', () => {
  it('starts empty and iterates nothing, again and again', () => {
    const h = new Holders();
    expect(h.size).toBe(0);
    expect(h.has(a)).toBe(false);
    expect([...h]).toEqual([]);
    expect([...new Holders()]).toEqual([]);
    expect(h.delete(a)).toBe(false);
  });

  it('holds one session, counts it once, and lets it go', () => {
    const h = new Holders();
    h.add(a).add(a);
    expect(h.size).toBe(1);
    expect(h.has(a) && !h.has(b)).toBe(true);
    expect([...h]).toEqual([a]);
    expect(h.delete(b)).toBe(false);
    expect(h.delete(a)).toBe(true);
    expect(h.size).toBe(0);
    expect(h.delete(a)).toBe(false);
  });

  it('past one holder keeps them all in order; down to one, it still has the one left', () => {
    const h = new Holders([a, b, c, b]);
    expect(h.size).toBe(3);
    expect([...h]).toEqual([a, b, c]);
    expect(h.delete(b)).toBe(true);
    expect(h.delete(b)).toBe(false);
    expect([...h]).toEqual([a, c]);
    h.delete(a);
    expect([...h]).toEqual([c]);
    expect(h.has(c) && !h.has(a)).toBe(true);
    h.add(a);
    expect([...h]).toEqual([c, a]);
    h.clear();
    expect(h.size).toBe(0);
    expect([...h]).toEqual([]);
  });

  it('an iteration may delete what it has seen (the directory frees while it walks)', () => {
    const h = new Holders([a, b]);
    const seen = [];
    for (const s of h) {
      seen.push(s);
      h.delete(s);
    }
    expect(seen).toEqual([a, b]);
    expect(h.size).toBe(0);
  });
});

describe('NO_HOLDERS', () => {
  it('is empty, lets deletes and clears pass, and refuses a holder (a record must get its own)', () => {
    expect(NO_HOLDERS.size).toBe(0);
    expect([...NO_HOLDERS]).toEqual([]);
    expect(NO_HOLDERS.delete(a)).toBe(false);
    NO_HOLDERS.clear();
    expect(() => NO_HOLDERS.add(a)).toThrow(/its own/);
    expect(NO_HOLDERS.size).toBe(0);
  });
});
