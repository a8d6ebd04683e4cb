// WebRTC signalling and holder lookup for peer links (issue 4). The
// coordinator relays signals only between registered peers (nodes, and
// drivers to or from nodes), stamps each with its true sender, and bounds how
// many a session may send. `locate` names the live holders of an object.
import type { MsgOf } from '../../shared/protocol/messages.js';
import { MAX_LOCATED } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { Session } from '../session.js';
import { Bucket } from '../limits/limits.js';

/** Signals a session may send per second on average, and in a burst. */
export const SIGNAL_RATE = 100;
export const SIGNAL_BURST = 400;

export class Signalling {
  private readonly buckets = new WeakMap<Session, Bucket>();
  /** Signals refused (rate, unknown target, wrong roles). */
  refused = 0;

  constructor(private readonly gcs: Gcs) {}

  /** A session's peer id: a node's id, or a driver's job id. */
  static peerId(s: Session): string | null {
    return s.role === 'node' ? s.nodeId : s.role === 'driver' ? s.jobId : null;
  }

  private sessionOf(peer: string): Session | undefined {
    const n = this.gcs.nodes.get(peer as never);
    if (n) return n.session;
    const j = this.gcs.jobs.get(peer as never);
    return j?.driver ?? undefined;
  }

  relay(from: Session, m: MsgOf<'signal'>): string | null {
    if (!this.take(from)) {
      this.refused++;
      return `signal rate above ${SIGNAL_RATE}/s`;
    }
    const self = Signalling.peerId(from);
    const to = this.sessionOf(m.peer);
    if (!self || !to || to.closed || to === from || to.peerless) {
      this.refused++;
      return null; // the peer left: the sender's link attempt times out and it uses the relay
    }
    if (from.role === 'driver' && to.role === 'driver') {
      this.refused++;
      return 'drivers signal nodes only';
    }
    to.send({ t: 'signal', peer: self, data: m.data });
    return null;
  }

  /** Live holders of the object other than the asker, in random order. */
  locate(s: Session, m: MsgOf<'locate'>): void {
    const o = this.gcs.objects.get(m.id);
    const peers: string[] = [];
    if (o && o.state === 'ready' && !o.v) {
      for (const h of o.locations) {
        const id = Signalling.peerId(h);
        if (h === s || h.closed || !id || h.peerless) continue;
        if (s.role === 'driver' && h.role === 'driver') continue;
        peers.push(id);
      }
    }
    for (let i = peers.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [peers[i], peers[j]] = [peers[j], peers[i]];
    }
    s.send({ t: 'located', x: m.x, peers: peers.slice(0, MAX_LOCATED) });
  }

  private take(s: Session): boolean {
    let b = this.buckets.get(s);
    if (!b) this.buckets.set(s, (b = new Bucket(SIGNAL_RATE, SIGNAL_BURST)));
    return b.take();
  }
}
