// WebRTC signalling and holder lookup for peer links (issue 4). The
// coordinator relays signals only between registered peers (nodes, and
// drivers to or from nodes), stamps each with its true sender, and bounds how
// many a session may send. `locate` names the live holders of an object,
// and the peers that asked for it lately (swarm broadcast, issue 17: readers
// still receiving an object serve its chunks to each other). With several
// coordinators (issue 15) a signal or a holder on another coordinator goes
// through the bridge (coordinator/mesh/signal-relay.ts).
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { ObjectId } from '../../shared/ids.js';
import { MAX_LOCATED } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { Session } from '../session.js';
import { Bucket } from '../limits/bucket.js';

/** Signals a session may send per second on average, and in a burst. */
export const SIGNAL_RATE = 100;
export const SIGNAL_BURST = 400;
/** How long a peer that located an object counts as fetching it (a swarm member). */
export const SWARM_TTL_MS = 120_000;
/** Swarm members remembered per object (the newest). */
const SWARM_MAX = 64;
/** Objects with swarm members, beyond which expired ones are swept on the next locate. */
const SWARM_SWEEP_AT = 4096;

/** The other coordinators of a mesh, as signalling sees them (coordinator/mesh/signal-relay.ts). */
export interface SignalBridge {
  /** The coordinator a session stands for (its link, or our agent on it), if it is one. */
  coordinatorOf(s: Session): string | undefined;
  /** The coordinator that last spoke for a peer not attached here. */
  route(peer: string): string | undefined;
  /** Sends a signal of `from` (peer id `self`) to `peer`, attached to coordinator `via`. */
  forward(via: string, from: Session, self: string, peer: string, data: string): void;
  /** Answers `s`'s locate once the coordinators in `via` named their holders too (bounded wait). */
  locate(s: Session, m: MsgOf<'locate'>, peers: string[], partial: string[], via: string[]): void;
  /** For /api/stats. */
  readonly counters: Record<string, number>;
}

export class Signalling {
  private readonly buckets = new WeakMap<Session, Bucket>();
  /** Signals refused (rate, unknown target, wrong roles). */
  refused = 0;
  /** By object: the peers that located it lately, with when they stop counting. */
  private readonly swarms = new Map<ObjectId, Map<Session, number>>();
  /** Set when this coordinator is part of a mesh. */
  bridge: SignalBridge | null = null;

  constructor(
    private readonly gcs: Gcs,
    /** Off: readers hear of full holders only (each takes the object from them; the bench's baseline). */
    private readonly swarm = true,
  ) {}

  /** A session's peer id: a node's id, or a driver's job id. */
  static peerId(s: Session): string | null {
    return s.role === 'node' ? s.nodeId : s.role === 'driver' ? s.jobId : null;
  }

  sessionOf(peer: string): Session | undefined {
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
    // A peer on another coordinator (a guest job's driver here stands for its owner's): over the mesh bus.
    const via = self && this.bridge && !this.bridge.coordinatorOf(from) ? (to ? this.bridge.coordinatorOf(to) : this.bridge.route(m.peer)) : undefined;
    if (via && self) {
      this.bridge!.forward(via, from, self, m.peer, m.data);
      return null;
    }
    if (!self || !to || to.closed || to === from || to.peerless) {
      this.refused++;
      // The peer left (or takes no links): the sender hears so and gives up on the link now, not at its timeout.
      if (self) from.send({ t: 'unreachable', peer: m.peer });
      return null;
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
    // Holders that are other coordinators: asked for their own holders, unless the asker is one (no loops).
    const via: string[] = [];
    const bridge = this.bridge && !this.bridge.coordinatorOf(s) ? this.bridge : null;
    // A driver reads (itself, or another coordinator's driver the asker stands for): no driver holders.
    const driverReads = s.role === 'driver' || m.asker === 'driver';
    if (o && o.state === 'ready' && !o.v) {
      for (const h of o.locations) {
        const id = Signalling.peerId(h);
        const other = bridge && !h.closed ? bridge.coordinatorOf(h) : undefined;
        if (other) via.push(other);
        if (h === s || h.closed || !id || h.peerless) continue;
        if (driverReads && h.role === 'driver') continue;
        peers.push(id);
      }
    }
    shuffle(peers);
    const partial = this.swarm && o && o.state === 'ready' && !o.v ? this.joinSwarm(s, m.id, driverReads) : [];
    if (via.length) return bridge!.locate(s, m, peers, partial, via);
    s.send({ t: 'located', x: m.x, peers: peers.slice(0, MAX_LOCATED), partial: partial.slice(0, MAX_LOCATED) });
  }

  /** Whether `s` located object `id` lately (a reader may accuse a swarm member of a bad chunk). */
  inSwarm(id: ObjectId, s: Session): boolean {
    return (this.swarms.get(id)?.get(s) ?? 0) > Date.now();
  }

  /**
   * Records `s` as fetching `id`; the other members it may link to, in random
   * order. Members that finished (now holders) are named too: they answer a
   * have map with all chunks, and readers prefer them to the origin.
   */
  private joinSwarm(s: Session, id: ObjectId, driverReads: boolean): string[] {
    const now = Date.now();
    if (this.swarms.size > SWARM_SWEEP_AT) this.sweep(now);
    let members = this.swarms.get(id);
    if (!members) this.swarms.set(id, (members = new Map<Session, number>()));
    const out: string[] = [];
    for (const [h, until] of members) {
      const peer = Signalling.peerId(h);
      if (until <= now || h.closed || !peer) members.delete(h);
      else if (h !== s && !h.peerless && !(driverReads && h.role === 'driver')) out.push(peer);
    }
    members.delete(s);
    members.set(s, now + SWARM_TTL_MS);
    if (members.size > SWARM_MAX) members.delete(members.keys().next().value!);
    return shuffle(out);
  }

  private sweep(now: number): void {
    for (const [id, members] of this.swarms) {
      for (const [h, until] of members) if (until <= now || h.closed) members.delete(h);
      if (members.size === 0) this.swarms.delete(id);
    }
  }

  private take(s: Session): boolean {
    let b = this.buckets.get(s);
    if (!b) this.buckets.set(s, (b = new Bucket(SIGNAL_RATE, SIGNAL_BURST)));
    return b.take();
  }
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
