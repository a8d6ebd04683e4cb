// The stats watchdog of a WebRTC link (issue 17, session 16): a link with
// bytes queued, none of which left the queue, whose connection sent no packet
// or heard none for a few seconds is frozen. Session 14 saw the first kind
// (Chromium's SCTP stopped sending with ~2.2 MB queued while ICE and DTLS
// stayed fine, 14 s and more); a path that drops the peer's packets is the
// second (SCTP then only retransmits, every 3 s at most in WebRTC's settings,
// so packets sent alone would not tell). It is closed, and its transfers go on
// from another holder or over a new link (a new association). The counts are
// the transport's packets (every DTLS record: SCTP data, acknowledgements,
// retransmissions, probes; no ICE check), whichever candidate pair carries
// them; else the selected pair's packets, else its bytes.
import type { LinkStats } from './link-stats.js';

/** How long a link may hold bytes queued with no packet sent (or none received) before it is closed as frozen. */
export const FROZEN_MS = 4_000;

/** What the watchdog reads of a link each tick. */
export interface Watched {
  /** Bytes queued on the channel now (the data channel's bufferedAmount). */
  buffered: number;
  /** Bytes of this side's sends that left the queue so far. */
  drained: number;
  stats(): Promise<LinkStats>;
}

/** The packets (or bytes) the connection sent and received so far, as getStats says; undefined where it does not say. */
export function packetCounts(s: LinkStats): { sent: number; received: number } | undefined {
  const num = (x: unknown): x is number => typeof x === 'number';
  const t = s.transport;
  if (t && num(t.packetsSent) && num(t.packetsReceived)) return { sent: t.packetsSent, received: t.packetsReceived };
  const p = s.pair;
  if (p && num(p.packetsSent) && num(p.packetsReceived)) return { sent: p.packetsSent, received: p.packetsReceived };
  if (p && num(p.bytesSent) && num(p.bytesReceived)) return { sent: p.bytesSent, received: p.bytesReceived };
  return undefined;
}

/**
 * One link's watchdog. Cheap while the link moves: stats are asked only once
 * bytes stayed queued and none left the queue since the last tick.
 */
export class LinkWatch {
  /** The counts last read, and since when each has not moved; undefined: not watching. */
  private sent: number | undefined;
  private received: number | undefined;
  private sentSince = 0;
  private receivedSince = 0;
  /** `drained` at the last tick (-1: none yet). */
  private drained = -1;
  private asking = false;

  constructor(private readonly frozenMs = FROZEN_MS) {}

  /**
   * Called about once a second. Resolves true when the link is frozen: bytes
   * stayed queued, none left the queue, and for frozenMs the connection sent
   * no packet or received none.
   */
  async tick(link: Watched, now: number): Promise<boolean> {
    const moved = link.drained !== this.drained;
    this.drained = link.drained;
    if (link.buffered === 0 || moved) {
      this.sent = this.received = undefined;
      return false;
    }
    if (this.asking) return false;
    this.asking = true;
    let s: LinkStats;
    try {
      s = await link.stats();
    } catch {
      return false; // closed meanwhile, or no stats here: the stuck close stays the net
    } finally {
      this.asking = false;
    }
    const c = packetCounts(s);
    // Moved while stats were asked: not frozen.
    if (c === undefined || link.buffered === 0 || link.drained !== this.drained) {
      this.sent = this.received = undefined;
      return false;
    }
    if (c.sent !== this.sent) {
      this.sent = c.sent;
      this.sentSince = now;
    }
    if (c.received !== this.received) {
      this.received = c.received;
      this.receivedSince = now;
    }
    return now - this.sentSince >= this.frozenMs || now - this.receivedSince >= this.frozenMs;
  }
}
