// TURN credentials refreshed within a long session (issue 17): a credential
// derived from the TURN secret dies at its expiry (6 h by default), and a
// volunteer tab may stay much longer. Every half lifetime the coordinator
// sends each peer that takes links fresh ICE servers (an `ice` message); its
// new links use them. Half a lifetime apart, a peer's newest credential always
// has at least half its life left. One timer for all sessions: the walk costs
// one message per peer every 3 h (by default), nothing in between.
import type { Session } from '../session.js';
import type { IceServers } from './ice.js';

export class IceRefresh {
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Fresh ICE configs sent (tests). */
  sent = 0;

  constructor(
    private readonly ice: IceServers,
    /** The coordinator's sessions. */
    private readonly sessions: () => Iterable<Session>,
  ) {}

  /** Starts the timer, where credentials expire at all. */
  start(): void {
    if (!this.ice.expires || this.timer) return;
    this.timer = setInterval(() => this.refresh(), Math.max(1000, this.ice.ttlMs / 2));
    this.timer.unref?.();
  }

  /** Sends every welcomed peer that takes links its fresh ICE servers. */
  refresh(now = Date.now()): void {
    for (const s of this.sessions()) {
      if (s.closed || s.peerless) continue;
      const peer = s.role === 'node' ? s.nodeId : s.role === 'driver' ? s.jobId : null;
      if (!peer) continue;
      s.send({ t: 'ice', ice: this.ice.for(peer, now) });
      this.sent++;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
