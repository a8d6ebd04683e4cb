// Sockets that connected to a link listener and have not said hello yet
// (issue 17, security): each holds a socket and a timer for up to its
// listener's hello time, so anyone who can reach the port could hold any
// number. Both listeners (TCP fast links, tabs' WebSockets) admit a new socket
// through one of these: beyond a bound in all, or per remote address, it is
// closed at once. Honest dialers have few pending at a time (one per link
// being made; a process keeps at most 32 links), and a refused dial falls back
// to WebRTC.

/** How long a new socket may take to say hello. */
export const HELLO_MS = 3000;
/** Sockets waiting for their hello, in all. */
export const MAX_PENDING = 128;
/** Sockets waiting for their hello from one remote address (tabs behind one NAT share theirs). */
export const MAX_PENDING_PER_ADDRESS = 16;

export interface PendingLimits {
  max: number;
  perAddress: number;
}

export class PendingHellos {
  private count = 0;
  private readonly byAddress = new Map<string, number>();
  /** Sockets closed at once for a bound (tests and stats read it). */
  turnedAway = 0;

  constructor(
    private readonly limits: PendingLimits = { max: MAX_PENDING, perAddress: MAX_PENDING_PER_ADDRESS },
    private readonly helloMs = HELLO_MS,
  ) {}

  /** Sockets waiting now. */
  get pending(): number {
    return this.count;
  }

  /**
   * A socket from `address` connected: null when a bound is reached (the
   * caller closes it at once); else its end of waiting, to call once it said
   * hello or went. `expire` runs (and the wait ends) if no hello came in time.
   */
  admit(address: string | undefined, expire: () => void): (() => void) | null {
    const key = address ?? '';
    const mine = this.byAddress.get(key) ?? 0;
    if (this.count >= this.limits.max || mine >= this.limits.perAddress) {
      this.turnedAway++;
      return null;
    }
    this.count++;
    this.byAddress.set(key, mine + 1);
    let waiting = true;
    const done = (): void => {
      if (!waiting) return;
      waiting = false;
      clearTimeout(timer);
      this.count--;
      const left = this.byAddress.get(key)! - 1;
      if (left === 0) this.byAddress.delete(key);
      else this.byAddress.set(key, left);
    };
    const timer = setTimeout(() => {
      done();
      expire();
    }, this.helloMs);
    timer.unref?.();
    return done;
  }
}
