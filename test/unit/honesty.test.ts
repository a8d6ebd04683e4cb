// What a node may report on (issue 8), remembered per session in bounded rings;
// task ids kept as 48-bit numbers, not strings (issue 14: 50,000 owned strings
// per node stayed after every burst).
import { describe, expect, it } from 'vitest';
import { Honesty, REMEMBER, taskKey } from '../../coordinator/trust/honesty.js';
import { childTaskId, newJobId, returnObjectId, rootTaskId } from '../../shared/ids.js';
import { installNodeHasher } from '../../edge/node-hash.js';
import type { Session } from '../../coordinator/session.js';

installNodeHasher();

describe('honesty: what a node may report on', () => {
  const root = rootTaskId(newJobId());
  const session = () => ({}) as Session;

  it('a task placed on a node may be reported by it, not by another; a made-up one by neither', () => {
    const h = new Honesty();
    const a = session();
    const b = session();
    const t = childTaskId(root, 1);
    h.placed(a, t);
    expect(h.mayReport(a, t)).toBe(true);
    expect(h.mayReport(b, t)).toBe(false);
    expect(h.mayReport(a, childTaskId(root, 2))).toBe(false);
  });

  it('keys are exact numbers that tell REMEMBER tasks apart', () => {
    const keys = Array.from({ length: REMEMBER }, (_, i) => taskKey(childTaskId(root, i)));
    expect(keys.every((k) => Number.isSafeInteger(k) && k >= 0)).toBe(true);
    expect(new Set(keys).size).toBe(REMEMBER);
  });

  it('past REMEMBER placements the oldest is forgotten, and the benefit of the doubt applies', () => {
    const h = new Honesty();
    const a = session();
    for (let i = 0; i < REMEMBER + 10; i++) h.placed(a, childTaskId(root, i));
    expect(h.mayReport(a, childTaskId(root, REMEMBER + 5))).toBe(true);
    expect(h.mayReport(a, childTaskId(root, 3))).toBe(true); // forgotten, but the ring is full
  });

  it('a memory that filled up is dropped: it answered yes to everything, and held 50,000 keys to do so (issue 14)', () => {
    const h = new Honesty();
    const a = session();
    const b = session();
    for (let i = 0; i < REMEMBER - 1; i++) h.placed(a, childTaskId(root, i));
    expect(h.held(a).tasks).toBe(REMEMBER - 1);
    expect(h.mayReport(a, childTaskId(root, REMEMBER + 1))).toBe(false);
    h.placed(a, childTaskId(root, REMEMBER - 1));
    // Full: nothing kept, and every report may be a late one, as when the ring was kept full.
    expect(h.held(a).tasks).toBe(0);
    expect(h.mayReport(a, childTaskId(root, 3))).toBe(true);
    expect(h.mayReport(a, childTaskId(root, 10 * REMEMBER))).toBe(true);
    h.placed(a, childTaskId(root, REMEMBER));
    expect(h.held(a).tasks).toBe(0);
    // Another session's memory is its own.
    h.placed(b, childTaskId(root, 1));
    expect(h.held(b).tasks).toBe(1);
    expect(h.mayReport(b, childTaskId(root, 2))).toBe(false);
    // Objects asked for, likewise: a reader that asked for REMEMBER may store or accuse for any.
    for (let i = 0; i < REMEMBER - 1; i++) h.asked(a, returnObjectId(childTaskId(root, i), 0));
    expect(h.held(a).asked).toBe(REMEMBER - 1);
    expect(h.mayStore(a, returnObjectId(childTaskId(root, 1), 1))).toBe(false);
    h.asked(a, returnObjectId(childTaskId(root, REMEMBER), 0));
    expect(h.held(a).asked).toBe(0);
    expect(h.mayStore(a, returnObjectId(childTaskId(root, 1), 1))).toBe(true);
    expect(h.mayAccuse(a, returnObjectId(childTaskId(root, 1), 1), 'node-x')).toBe(true);
    expect(h.mayAccuse(a, returnObjectId(childTaskId(root, 1), 1), 'node-x')).toBe(false);
  });

  it('objects asked for are remembered by their whole id (two outputs of one task differ)', () => {
    const h = new Honesty();
    const a = session();
    const t = childTaskId(root, 7);
    h.asked(a, returnObjectId(t, 0));
    expect(h.mayStore(a, returnObjectId(t, 0))).toBe(true);
    expect(h.mayStore(a, returnObjectId(t, 1))).toBe(false);
  });
});
