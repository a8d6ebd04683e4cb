// An edge node's helper threads (edge/node-helpers.ts, session 32): started at
// its first peer link, whichever end, or by a timer after it joined.
import { describe, expect, it } from 'vitest';
import { HELPERS_AFTER_MS, helpersAfter, helpersAfterMs, helpersAtFirstLink } from '../../edge/node-helpers.js';
import type { PeerFactory, RawPeer } from '../../shared/transfer/raw-peer.js';
import { until } from '../helpers/poll.js';

describe("an edge node's helper threads", () => {
  it('start as its first peer link is made, initiator or responder, before the link exists', () => {
    const calls: string[] = [];
    const peer = {} as RawPeer;
    const factory: PeerFactory = (initiator) => {
      calls.push(initiator ? 'dial' : 'answer');
      return peer;
    };
    const wrapped = helpersAtFirstLink(factory, () => calls.push('start'))!;
    expect(calls).toEqual([]);
    expect(wrapped(false)).toBe(peer);
    expect(wrapped(true, { iceServers: [] } as never)).toBe(peer);
    expect(calls).toEqual(['start', 'answer', 'start', 'dial']);
    expect(helpersAtFirstLink(undefined, () => calls.push('start'))).toBeUndefined();
  });

  it('start after the delay unless cancelled', async () => {
    let started = 0;
    helpersAfter(0, () => started++);
    const cancel = helpersAfter(0, () => (started += 100));
    cancel();
    await until(() => started > 0, { what: 'the timer to start the helpers' });
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(1);
  });

  it('take a delay of whole ms in 0-3600000, default HELPERS_AFTER_MS', () => {
    expect(helpersAfterMs(undefined)).toBe(HELPERS_AFTER_MS);
    expect(helpersAfterMs(0)).toBe(0);
    for (const bad of [-1, 1.5, 3_600_001, '200', NaN, null]) expect(() => helpersAfterMs(bad)).toThrow(/helpersAfterMs must be/);
  });
});
