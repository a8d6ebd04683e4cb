import { describe, expect, it } from 'vitest';
import { BACKOFF, MAX_RETRY_HINT_MS, backoffCap, backoffDelay, rejoinDelay, retryHint, retryReason } from '../../shared/backoff.js';

describe('backoff with full jitter', () => {
  it('caps grow as base · 2^n up to max', () => {
    const b = { baseMs: 100, maxMs: 5000 };
    expect([0, 1, 2, 3, 5, 6, 40, 1e9].map((n) => backoffCap(b, n))).toEqual([100, 200, 400, 800, 3200, 5000, 5000, 5000]);
  });

  it('a delay is a uniform draw in [0, cap)', () => {
    const b = { baseMs: 100, maxMs: 5000 };
    expect(backoffDelay({ ...b, random: () => 0 }, 3)).toBe(0);
    expect(backoffDelay({ ...b, random: () => 0.5 }, 3)).toBe(400);
    expect(backoffDelay({ ...b, random: () => 0.999999 }, 10)).toBe(4999);
  });

  it('a crowd reconnecting after a restart spreads over the window instead of moving in lockstep', () => {
    // 10,000 tabs at their 4th attempt: without jitter all would wait the same 4,000 ms.
    const delays = Array.from({ length: 10_000 }, () => backoffDelay(BACKOFF.tabRejoin, 3));
    const cap = backoffCap(BACKOFF.tabRejoin, 3);
    expect(Math.max(...delays)).toBeLessThan(cap);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    // Ten equal slices of the window each get roughly a tenth of the crowd.
    const slices = new Array(10).fill(0);
    for (const d of delays) slices[Math.floor((d / cap) * 10)]++;
    for (const n of slices) expect(n).toBeGreaterThan(700);
  });
});

describe("a refusal's retry hint (issue 14: a reconnect storm admitted at the coordinator's rate)", () => {
  it('is read from a close reason and followed, with a few ms of jitter; without one, the backoff', () => {
    const why = `connection closed (1008 ${retryReason('CONNECTING_TOO_FAST', 1234.4)})`;
    expect(retryHint(why)).toBe(1234);
    expect(rejoinDelay({ ...BACKOFF.nodeRejoin, random: () => 0.5 }, 7, why)).toBe(1244);
    expect(rejoinDelay({ ...BACKOFF.nodeRejoin, random: () => 0.5 }, 3, 'connection closed (1006)')).toBe(400);
  });

  it('is input from outside: malformed hints are no hints, and a huge one is capped', () => {
    for (const bad of ['retry=12', 'retry=-5ms', 'retry=1e9ms', 'retry=ms', 'xretry=5ms', 'retry=99999999999ms'])
      expect(retryHint(`connection closed (1008 CONNECTING_TOO_FAST ${bad})`)).toBeUndefined();
    expect(retryHint('connection closed (1008 CONNECTING_TOO_FAST retry=999999999ms)')).toBe(MAX_RETRY_HINT_MS);
  });
});
