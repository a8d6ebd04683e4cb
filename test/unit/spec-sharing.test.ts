// What a task on record shares with others (coordinator/scheduler/task-submit.ts,
// issue 14): one frozen object per distinct resource request, never one that
// differs in a value or a name, however the names are spelled.
import { describe, expect, it } from 'vitest';
import { shareResources } from '../../coordinator/scheduler/task-submit.js';

describe('shareResources', () => {
  it('equal requests end up on one frozen object with the same values', () => {
    shareResources({ cpu: 1 });
    const a = shareResources({ cpu: 1 });
    const b = shareResources({ cpu: 1 });
    expect(a).toBe(b);
    expect(a).toEqual({ cpu: 1 });
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('requests that differ in a value, in a name, or in how many they are stay apart', () => {
    shareResources({ cpu: 2, gpu: 1 });
    expect(shareResources({ cpu: 2, gpu: 1 })).toEqual({ cpu: 2, gpu: 1 });
    expect(shareResources({ cpu: 2, gpu: 2 })).toEqual({ cpu: 2, gpu: 2 });
    expect(shareResources({ cpu: 2 })).toEqual({ cpu: 2 });
    expect(shareResources({ cpu: 1, gpu: 1 })).toEqual({ cpu: 1, gpu: 1 });
  });

  it("names holding the key's separators do not pass for another request", () => {
    shareResources({ a: 1, b: 2 });
    shareResources({ a: 1, b: 2 });
    const odd = { 'a=1;b': 2 };
    expect(shareResources(odd)).toBe(odd);
    const odd2 = { a: 1, 'b=2;c': 3 };
    expect(shareResources(odd2)).toEqual({ a: 1, 'b=2;c': 3 });
  });

  it('right after a shared request, one with a name more, a name less or another amount is not taken for it (session 17)', () => {
    shareResources({ cpu: 3, mem: 8 });
    const shared = shareResources({ cpu: 3, mem: 8 });
    expect(shareResources({ cpu: 3, mem: 8 })).toBe(shared);
    const more = { cpu: 3, mem: 8, gpu: 1 };
    expect(shareResources(more)).toBe(more);
    expect(shareResources({ cpu: 3, mem: 8 })).toBe(shared);
    const less = { cpu: 3 };
    expect(shareResources(less)).toBe(less);
    expect(shareResources({ cpu: 3, mem: 8 })).toBe(shared);
    const other = { cpu: 3, mem: 9 };
    expect(shareResources(other)).toBe(other);
    expect(shareResources({ mem: 8, cpu: 3 })).toBe(shared);
  });
});
