// A token bucket, and a session's buckets (session.ts holds them; limits.ts writes them): apart from limits.ts, which
// reads sessions, so that the session's type does not import it back.
/** A token bucket: `rate` tokens a second, at most `burst` saved up. */
export class Bucket {
  private tokens: number;
  private at: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = Date.now(),
  ) {
    this.tokens = burst;
    this.at = now;
  }

  take(n = 1, now = Date.now()): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /**
   * A caller refused now reserves the next token nobody reserved yet: how long
   * until it (issue 14: a reconnect storm past the burst is admitted at `rate`,
   * each refused connection told its own slot, rather than all of them retrying
   * on their own schedules and being refused again, each refusal a WebSocket
   * upgrade for nothing). Slots left unused lapse as the clock passes them.
   */
  reserve(now = Date.now()): number {
    this.refill(now);
    const step = 1000 / this.rate;
    // The next token's time, or the slot after the last one promised if that is later.
    const next = now + Math.max(0, 1 - this.tokens) * step;
    this.slotAt = Math.max(next, this.slotAt + step);
    return Math.ceil(this.slotAt - now);
  }

  private slotAt = -Infinity;

  /** Whether it has saved up its whole burst again. */
  full(now = Date.now()): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }

  private refill(now: number): void {
    if (now > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
      this.at = now;
    }
  }
}

/**
 * A session's buckets, on the session (Session.buckets; only this file writes it): a WeakMap's entry was an ephemeron
 * each full GC handles apart, per connection (issue 14, session 38). Its signals bucket is made at its first signal
 * (full then, as it would have been by then): most nodes never signal.
 */
export interface SessionBuckets {
  messages: Bucket;
  signals: Bucket | null;
}
