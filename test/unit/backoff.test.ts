import { describe, expect, it } from 'vitest';
import { BACKOFF, CAP_OPTION_MS, MAX_RETRY_HINT_MS, backoffCap, backoffDelay, cappedAt, rejoinDelay, retryHint, retryReason } from '../../shared/backoff.js';
import { connect, startEdgeNode } from '../../edge/index.js';

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

describe("a user's cap on a rejoin or reconnect loop (an edge node's rejoinMaxMs, a driver's reconnectMaxMs)", () => {
  it('caps every step at it, the base kept; without one the loop is the default itself', () => {
    const b = cappedAt(BACKOFF.nodeRejoin, 500, 'rejoinMaxMs');
    expect([0, 1, 2, 3, 10].map((n) => backoffCap(b, n))).toEqual([100, 200, 400, 500, 500]);
    expect(backoffDelay({ ...b, random: () => 0.999999 }, 20)).toBe(499);
    expect(BACKOFF.nodeRejoin.maxMs).toBe(5000); // the default untouched
    expect(cappedAt(BACKOFF.driverReconnect, undefined, 'x')).toBe(BACKOFF.driverReconnect);
  });

  it('is input from outside: a cap that is not a whole number of ms in [100, 600000] is refused, naming the option', async () => {
    for (const bad of [0, 99, 100.5, 600_001, Number.NaN, Infinity, -1])
      expect(() => cappedAt(BACKOFF.nodeRejoin, bad, 'rejoinMaxMs')).toThrow(/rejoinMaxMs must be a whole number of ms from 100 to 600000/);
    expect(cappedAt(BACKOFF.nodeRejoin, CAP_OPTION_MS.min, 'x').maxMs).toBe(100);
    // At the entry points, before any connection (nothing listens on port 1).
    await expect(startEdgeNode({ coordinator: 'http://127.0.0.1:1', rejoinMaxMs: 5 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
    await expect(connect({ url: 'http://127.0.0.1:1', token: 't', reconnectMaxMs: 5 })).rejects.toMatchObject({ code: 'BAD_ARGUMENT' });
  });
});
