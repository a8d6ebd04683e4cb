import { describe, expect, it } from 'vitest';
import { statsOf } from '../../shared/transfer/link-stats.js';

/** A stats report as RTCPeerConnection.getStats gives it: a map of id to record. */
function report(entries: Record<string, unknown>[]): { getStats(): Promise<Map<string, Record<string, unknown>>> } {
  return { getStats: async () => new Map(entries.map((e) => [String(e.id), e])) };
}

describe("a WebRTC link's stats", () => {
  it('takes the transport, its selected pair (not another) and every data channel', async () => {
    const s = await statsOf(
      report([
        { id: 'T1', type: 'transport', selectedCandidatePairId: 'P2', dtlsState: 'connected', iceState: 'connected', bytesSent: 10, bytesReceived: 20 },
        { id: 'P1', type: 'candidate-pair', state: 'failed', bytesSent: 1, bytesReceived: 1, packetsSent: 1 },
        {
          id: 'P2',
          type: 'candidate-pair',
          state: 'succeeded',
          bytesSent: 300,
          bytesReceived: 400,
          packetsSent: 5,
          packetsReceived: 6,
          currentRoundTripTime: 0.001,
          requestsSent: 3,
          responsesReceived: 3,
          localCandidateId: 'C1',
          remoteCandidateId: 'C2',
        },
        { id: 'D1', type: 'data-channel', label: 'main', state: 'open', messagesSent: 7, messagesReceived: 8, bytesSent: 70, bytesReceived: 80 },
        { id: 'D2', type: 'data-channel', label: 'tabmesh-lane', state: 'open', messagesSent: 1, messagesReceived: 2, bytesSent: 1, bytesReceived: 2 },
        { id: 'C1', type: 'local-candidate', address: '198.18.0.1', port: 40001, protocol: 'udp' },
        { id: 'C2', type: 'remote-candidate', ip: '::1', port: 40002, protocol: 'udp' },
      ]),
      4096,
    );
    expect(s.buffered).toBe(4096);
    expect(s.transport).toMatchObject({ dtlsState: 'connected', bytesSent: 10 });
    expect(s.pair).toMatchObject({ state: 'succeeded', packetsSent: 5, packetsReceived: 6, rtt: 0.001 });
    expect(s.pair?.local).toEqual({ address: '198.18.0.1', port: 40001, protocol: 'udp' });
    expect(s.pair?.remote).toEqual({ address: '::1', port: 40002, protocol: 'udp' });
    expect(s.channels.map((c) => [c.label, c.messagesSent, c.messagesReceived])).toEqual([
      ['main', 7, 8],
      ['tabmesh-lane', 1, 2],
    ]);
  });

  it('has no pair before one is selected', async () => {
    const s = await statsOf(report([{ id: 'T1', type: 'transport', dtlsState: 'new', iceState: 'checking' }]), 0);
    expect(s.pair).toBeUndefined();
    expect(s.channels).toEqual([]);
  });
});
