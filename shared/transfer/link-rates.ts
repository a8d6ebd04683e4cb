// What moving object bytes costs over each kind of peer link (issue 17): the
// scheduler weighs a spill by it (coordinator/scheduler/link-cost.ts), and a
// swarm reader compares what a Node source gives it with what a tab peer
// could add (swarm-policy.ts). Figures are this project's benches on one
// loaded 2-core host (README), taken at their low end: an estimate to weigh
// moves by, not a promise.
export type LinkKind = 'tcp' | 'ws' | 'webrtc' | 'relay';

const MIB_PER_S = (1024 * 1024) / 1000;

/** Bytes per ms each kind of link moves. */
export const LINK_BYTES_PER_MS: Readonly<Record<LinkKind, number>> = {
  /** Node peers over TCP (edge/fast-link.ts): 1,000+ MiB/s quiet, 15-20 under load into fresh memory. */
  tcp: 100 * MIB_PER_S,
  /** A tab and a Node peer over a WebSocket (fast-ws.ts): 30-139 MiB/s from bare tabs, session 11. */
  ws: 30 * MIB_PER_S,
  /** Two tabs over a WebRTC data channel: 4.5-7.3 MiB/s on bare tabs (sessions 11-12), at 340-520 ms of Chromium CPU a MiB. */
  webrtc: 5 * MIB_PER_S,
  /** Through the coordinator's relay: 23 MiB/s measured, on the coordinator's one thread. */
  relay: 10 * MIB_PER_S,
};

/** The kind of an open link, by what carries it (RawPeer.transport; none said: WebRTC). */
export function linkKindOf(transport: string | undefined): LinkKind {
  return transport === 'tcp' || transport === 'ws' ? transport : 'webrtc';
}
