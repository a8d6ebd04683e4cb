// The relay's flow control (session 37): a credit window per transfer. The
// relay forwards a holder's chunk to the reader's socket as it comes, so a
// reader slower than the holder left the difference queued here (35 MiB of a
// 64 MiB get, the start process's peak RSS 661-798 MB). A holder that said
// `credit` gets `serve` with a window: it sends chunks starting below that
// byte. As the transfer nears its credit, more is granted (`more`) once the
// reader's socket is below a low water; until then the transfer waits in a set
// that one poll timer looks at (not a timer per chunk), and one that waits past
// STALL_MS (a reader that does not read) is failed on both sides. What one
// transfer holds here is so bounded by the window and the reader's low water.
import type { Session } from '../session.js';

/** Bytes a holder may send ahead of what the relay has handed the reader's socket. */
export const RELAY_WINDOW = 4 << 20;
/** More is granted while the reader's socket holds less than this. */
export const READER_LOW_WATER = 1 << 20;
/** How often transfers waiting on their reader's socket look again. */
export const POLL_MS = 5;
/** A transfer whose reader's socket did not drain for this long fails (the holder's own bound is longer: relay-credit.ts). */
export const STALL_MS = 30_000;

export interface WindowOptions {
  window: number;
  lowWater: number;
  pollMs: number;
  stallMs: number;
}

/** A relay transfer under a window, as the relay keeps it. */
export interface Windowed {
  from: Session;
  to: Session;
  /** The relay's transfer number (the holder's `x`). */
  X: number;
  /** Bytes forwarded so far (the end of the last chunk). */
  next: number;
  /** The holder may send chunks starting below this byte. */
  upTo: number;
  /** Object size. */
  n: number;
}

export class RelayWindows {
  readonly o: WindowOptions;
  /** Transfers near or at their credit whose reader's socket is above the low water, with when they began to wait. */
  private readonly waiting = new Map<Windowed, number>();
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    /** A transfer waited past the stall bound: the relay fails it. */
    private readonly onStalled: (t: Windowed, why: string) => void,
    o: Partial<WindowOptions> = {},
  ) {
    this.o = { window: RELAY_WINDOW, lowWater: READER_LOW_WATER, pollMs: POLL_MS, stallMs: STALL_MS, ...o };
  }

  /** The window a new transfer from a holder that said `credit` opens with (its first `upTo`). */
  get window(): number {
    return this.o.window;
  }

  /** Transfers waiting on their reader's socket (for tests and stats). */
  get waitingCount(): number {
    return this.waiting.size;
  }

  /** A chunk of `t` was forwarded: more credit now if it runs low and the reader keeps up, else it waits for the reader. */
  forwarded(t: Windowed): void {
    // Credit to the object's end already: nothing left to grant.
    if (t.upTo >= t.n || t.upTo - t.next > this.o.window / 2 || this.waiting.has(t)) return;
    if (this.drained(t)) return this.grant(t);
    this.waiting.set(t, Date.now());
    this.timer ??= setInterval(() => this.poll(), this.o.pollMs);
    this.timer.unref?.();
  }

  /** `t` ended (its last chunk, a failure, a session gone): it waits no more. */
  forget(t: Windowed): void {
    if (!this.waiting.delete(t) || this.waiting.size > 0) return;
    this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.waiting.clear();
  }

  private drained(t: Windowed): boolean {
    // A link session of the mesh has no socket of its own here (bufferedAmount 0): its transfers are not held back.
    return !(t.to.bufferedAmount > this.o.lowWater);
  }

  private grant(t: Windowed): void {
    t.upTo = Math.min(t.n, t.next + this.o.window);
    t.from.send({ t: 'more', x: t.X, upTo: t.upTo });
  }

  private poll(): void {
    const now = Date.now();
    for (const [t, since] of this.waiting) {
      if (this.drained(t)) {
        this.waiting.delete(t);
        this.grant(t);
      } else if (now - since > this.o.stallMs) {
        this.waiting.delete(t);
        this.onStalled(t, `its reader did not read for ${Math.round((now - since) / 1000)} s (${t.to.bufferedAmount} bytes queued to it)`);
      }
    }
    if (this.waiting.size === 0) this.stop();
  }
}
