// The node's cancels kept for direct tasks not there yet (shared/node/cancels-ahead.ts).
import { describe, expect, it } from 'vitest';
import { CANCELS_AHEAD_MAX, CANCELS_AHEAD_MS, CancelsAhead } from '../../shared/node/cancels-ahead.js';
import type { TaskId } from '../../shared/ids.js';

const id = (i: number) => i.toString(16).padStart(32, '0') as TaskId;

describe('cancels ahead of their task', () => {
  it('stops the attempt it was sent for, once; not a later attempt (a lineage re-run of a task whose run ended here)', () => {
    const c = new CancelsAhead();
    c.add(id(1), 0, 1_000);
    expect(c.take(id(1), 0, 1_100)).toBe(true);
    expect(c.take(id(1), 0, 1_200)).toBe(false);
    c.add(id(2), 0, 1_000);
    expect(c.take(id(2), 1, 1_100)).toBe(false);
    expect(c.size).toBe(0);
  });

  it('is bounded: the oldest go first past the count, and a cancel older than the window stops nothing', () => {
    const c = new CancelsAhead();
    for (let i = 0; i < CANCELS_AHEAD_MAX + 10; i++) c.add(id(i), 0, 1_000 + i);
    expect(c.size).toBe(CANCELS_AHEAD_MAX);
    expect(c.take(id(5), 0, 2_000)).toBe(false);
    expect(c.take(id(50), 0, 2_000)).toBe(true);
    c.add(id(99_999), 0, 10_000 + CANCELS_AHEAD_MS);
    expect(c.size).toBe(1); // the rest were older than the window
    expect(c.take(id(99_999), 0, 10_001 + 2 * CANCELS_AHEAD_MS)).toBe(false);
  });
});
