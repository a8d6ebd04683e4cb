// What a peer's link pool knows of each other peer's reachability (issue 17):
// peers whose last link did not come up (not tried again for a while: readers
// go to the relay), peers the coordinator could not signal (they left: not
// tried again even by a swarm), and when a signal last came from each (the
// coordinator's relay vouches for the sender: a dial it answers, or its own,
// shows it is there; swarm-pick.ts).

/** Peers whose last signal is remembered (a bound on what peers can make this side keep). */
const SIGNALLED_MAX = 4096;

export class PeerReach {
  private readonly failedUntil = new Map<string, number>();
  private readonly left = new Set<string>();
  private readonly lastSignal = new Map<string, number>();

  constructor(private readonly failedForMs: number) {}

  /** Whether a link to `peer` is worth trying now (no recent attempt failed). */
  usable(peer: string, now = Date.now()): boolean {
    return (this.failedUntil.get(peer) ?? 0) <= now;
  }

  /** Whether the coordinator could not signal `peer` lately (it left). */
  hasLeft(peer: string): boolean {
    return this.left.has(peer);
  }

  /** A link to `peer` did not come up (`left`: the coordinator could not signal it): not tried for failedForMs. */
  failed(peer: string, left = false): void {
    this.failedUntil.set(peer, Date.now() + this.failedForMs);
    if (left) this.left.add(peer);
  }

  /** `peer` offered a new link: it is there, whatever an earlier attempt found. */
  offered(peer: string): void {
    this.failedUntil.delete(peer);
    this.left.delete(peer);
  }

  /** A signal came from `peer` now. */
  heard(peer: string): void {
    if (this.lastSignal.size >= SIGNALLED_MAX && !this.lastSignal.has(peer)) this.lastSignal.clear();
    this.lastSignal.set(peer, Date.now());
  }

  /** When a signal last came from `peer` (0: none remembered). */
  signalledAt(peer: string): number {
    return this.lastSignal.get(peer) ?? 0;
  }

  /** Failures whose time ran out are forgotten. */
  expire(now: number): void {
    for (const [p, t] of this.failedUntil) {
      if (t > now) continue;
      this.failedUntil.delete(p);
      this.left.delete(p);
    }
  }
}
