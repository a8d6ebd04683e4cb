// The parts a peer's link pool (shared/transfer/links.ts) is made of, each on
// its own (issue 17, session 18 split them out): the receive budget that
// bounds the memory of concurrent fetches, and what the pool knows of each
// peer's reachability.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReceiveBudget } from '../../shared/transfer/receive-budget.js';
import { PeerReach } from '../../shared/transfer/peer-reach.js';

describe('the receive budget', () => {
  it('a fetch past the cap waits until bytes come back; one that fits goes at once; one larger than the cap goes alone', async () => {
    const b = new ReceiveBudget(100);
    const went: string[] = [];
    await b.reserve(60);
    const big = b.reserve(150).then(() => went.push('big'));
    await b.reserve(30).then(() => went.push('small'));
    expect(went).toEqual(['small']); // 60 + 30 fits: it does not wait behind the big one
    b.release(60);
    await Promise.resolve();
    expect(went).toEqual(['small']); // 30 + 150 does not fit
    b.release(30);
    await big;
    expect(went).toEqual(['small', 'big']); // alone: nothing else reserved
    expect(b.peak).toBe(150);
    b.release(150);
    b.peak = 0; // tests reset it between phases
    await b.reserve(10);
    expect(b.peak).toBe(10);
  });
});

describe("a peer's reachability", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a peer whose link did not come up is not tried again until its time runs out, or it offers a link', () => {
    const r = new PeerReach(30_000);
    expect(r.usable('a')).toBe(true);
    r.failed('a');
    expect(r.usable('a')).toBe(false);
    expect(r.hasLeft('a')).toBe(false);
    vi.advanceTimersByTime(30_001);
    expect(r.usable('a')).toBe(true);
    r.failed('a', true);
    expect(r.hasLeft('a')).toBe(true);
    r.offered('a');
    expect(r.usable('a')).toBe(true);
    expect(r.hasLeft('a')).toBe(false);
  });

  it('a peer that left is forgotten with its failure once the time ran out', () => {
    const r = new PeerReach(1000);
    r.failed('b', true);
    r.expire(Date.now() + 500);
    expect(r.hasLeft('b')).toBe(true);
    r.expire(Date.now() + 1001);
    expect(r.hasLeft('b')).toBe(false);
    expect(r.usable('b')).toBe(true);
  });

  it('when each peer last signalled; the record is bounded however many peers signal', () => {
    const r = new PeerReach(1000);
    expect(r.signalledAt('c')).toBe(0);
    r.heard('c');
    const at = Date.now();
    expect(r.signalledAt('c')).toBe(at);
    for (let i = 0; i < 5000; i++) r.heard(`p${i}`);
    // Past the bound the record starts again: the oldest peers are forgotten, the latest kept.
    expect(r.signalledAt('c')).toBe(0);
    expect(r.signalledAt('p4999')).toBe(at);
  });
});
