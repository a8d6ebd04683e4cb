// What moving a task's argument bytes between two nodes costs (issue 17,
// spillback): the link the two would open, by their kinds (Node peers over
// TCP, a tab and a Node peer over a WebSocket, two tabs over WebRTC, the
// relay where one takes no links), at that kind's rate (link-rates.ts).
import type { NodeRecord } from '../gcs/tables.js';
import { LINK_BYTES_PER_MS, type LinkKind } from '../../shared/transfer/link-rates.js';

/** The kind of link nodes `a` and `b` move objects over. */
export function linkKindBetween(a: NodeRecord, b: NodeRecord): LinkKind {
  if (a.session.peerless || b.session.peerless) return 'relay';
  if (a.kind === 'edge' && b.kind === 'edge') return 'tcp';
  return a.kind === 'edge' || b.kind === 'edge' ? 'ws' : 'webrtc';
}

/** How long moving `bytes` from `from` to `to` takes, ms. */
export function moveMs(from: NodeRecord, to: NodeRecord, bytes: number): number {
  return bytes / LINK_BYTES_PER_MS[linkKindBetween(from, to)];
}
