// A WebRTC link's counters for diagnostics (session 14): whether packets still
// move on a link that looks frozen (test/p2p/memory.test.ts prints them).

/** A WebRTC link's counters (RTCStatsReport, the parts that tell whether packets move). */
export interface LinkStats {
  pair?: {
    state: unknown;
    bytesSent: unknown;
    bytesReceived: unknown;
    packetsSent?: unknown;
    packetsReceived?: unknown;
    rtt?: unknown;
    requestsSent?: unknown;
    responsesReceived?: unknown;
    consentRequestsSent?: unknown;
    /** The pair's ends (local and remote candidates): which UDP ports carry the link. */
    local?: { address: unknown; port: unknown; protocol: unknown };
    remote?: { address: unknown; port: unknown; protocol: unknown };
  };
  transport?: { dtlsState: unknown; iceState: unknown; bytesSent: unknown; bytesReceived: unknown; packetsSent?: unknown; packetsReceived?: unknown };
  /** Every local candidate (address, port, protocol): where the connection may move to (ICE picks another pair when one dies). */
  localCandidates?: { address: unknown; port: unknown; protocol: unknown }[];
  channels: { label: unknown; state: unknown; messagesSent: unknown; messagesReceived: unknown; bytesSent: unknown; bytesReceived: unknown }[];
  buffered: number;
}

/** What getStats says of a connection's selected pair, transport and channels. */
export async function statsOf(pc: { getStats(): Promise<Map<string, Record<string, unknown>>> }, buffered: number): Promise<LinkStats> {
  const out: LinkStats = { channels: [], buffered };
  const report = await pc.getStats();
  let pairId: unknown;
  for (const r of report.values()) {
    if (r.type === 'transport') {
      pairId = r.selectedCandidatePairId;
      out.transport = {
        dtlsState: r.dtlsState,
        iceState: r.iceState,
        bytesSent: r.bytesSent,
        bytesReceived: r.bytesReceived,
        packetsSent: r.packetsSent,
        packetsReceived: r.packetsReceived,
      };
    } else if (r.type === 'local-candidate') {
      (out.localCandidates ??= []).push(candidate(r)!);
    } else if (r.type === 'data-channel') {
      out.channels.push({
        label: r.label,
        state: r.state,
        messagesSent: r.messagesSent,
        messagesReceived: r.messagesReceived,
        bytesSent: r.bytesSent,
        bytesReceived: r.bytesReceived,
      });
    }
  }
  const pair = typeof pairId === 'string' ? report.get(pairId) : undefined;
  if (pair) {
    out.pair = {
      state: pair.state,
      bytesSent: pair.bytesSent,
      bytesReceived: pair.bytesReceived,
      packetsSent: pair.packetsSent,
      packetsReceived: pair.packetsReceived,
      rtt: pair.currentRoundTripTime,
      requestsSent: pair.requestsSent,
      responsesReceived: pair.responsesReceived,
      consentRequestsSent: pair.consentRequestsSent,
      local: candidate(report.get(String(pair.localCandidateId))),
      remote: candidate(report.get(String(pair.remoteCandidateId))),
    };
  }
  return out;
}

/** A candidate's address, port and protocol (its `address`, or `ip` in older reports). */
function candidate(c: Record<string, unknown> | undefined): { address: unknown; port: unknown; protocol: unknown } | undefined {
  return c ? { address: c.address ?? c.ip, port: c.port, protocol: c.protocol } : undefined;
}
