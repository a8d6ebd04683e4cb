// A holder's credit for the relay transfers it serves (session 37). The
// coordinator forwards a holder's chunks to the reader's socket as they come;
// without a bound, a reader slower than the holder left the difference queued
// in the coordinator (35 MiB of a 64 MiB get). A `serve` with a window `w`
// lets the holder send chunks starting below byte `w`; the coordinator's
// `more` raises that as the reader's socket drains (coordinator/objects/
// relay-window.ts). The holder waits for credit as it waits for its own
// socket, with a bound: a coordinator that never grants more (a reader that
// never reads) fails the transfer, and waiting never blocks other messages.
import type { MsgOf } from '../protocol/messages.js';

/**
 * How long a holder waits for credit before it gives the transfer up. Longer than the coordinator's own bound
 * (relay-window.ts STALL_MS), which fails a stalled transfer first and says why to both sides.
 */
export const CREDIT_STALL_MS = 60_000;

/** What a holder may do with a chunk: send it, stop (the reader went), or give up (no credit within the bound). */
export type CreditWait = 'go' | 'stop' | 'stalled';

interface Credit {
  /** Chunks starting below this byte may go. */
  upTo: number;
  stop: boolean;
  /** The sender waiting for more, if any. */
  wake: (() => void) | null;
}

/** The credit of each windowed transfer this holder serves, by the coordinator's transfer number. */
export class ServeCredits {
  private readonly credits = new Map<number, Credit>();

  constructor(readonly stallMs = CREDIT_STALL_MS) {}

  get size(): number {
    return this.credits.size;
  }

  /** A `serve` with window `w` opened transfer `x` (a transfer number used again replaces the old credit). */
  open(x: number, w: number): void {
    this.credits.get(x)?.wake?.();
    this.credits.set(x, { upTo: w, stop: false, wake: null });
  }

  /** The coordinator's `more`: false when `x` is no windowed transfer being served here (it ended: nothing to do). */
  grant(m: MsgOf<'more'>): boolean {
    const c = this.credits.get(m.x);
    if (!c) return false;
    if (m.stop) c.stop = true;
    else if (m.upTo > c.upTo) c.upTo = m.upTo; // credit only grows: a late or repeated grant changes nothing
    const wake = c.wake;
    c.wake = null;
    wake?.();
    return true;
  }

  /** Waits until a chunk starting at byte `at` of transfer `x` may go; a transfer without a window goes at once. */
  async wait(x: number, at: number): Promise<CreditWait> {
    let c = this.credits.get(x);
    while (c) {
      if (c.stop) return 'stop';
      if (at < c.upTo) return 'go';
      const credit = c;
      const woke = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          credit.wake = null;
          resolve(false);
        }, this.stallMs);
        credit.wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (!woke) return 'stalled';
      const now = this.credits.get(x);
      if (now !== credit) return 'stop'; // closed, or opened again by another serve: this one is over
      c = now;
    }
    return 'go';
  }

  /** The connection went: the coordinator's transfer numbers mean nothing now, every sender waiting stops. */
  stopAll(): void {
    for (const x of [...this.credits.keys()]) this.close(x);
  }

  /** Transfer `x` ended here (sent, failed or stopped): its credit goes, and a sender still waiting stops. */
  close(x: number): void {
    const c = this.credits.get(x);
    if (!c) return;
    this.credits.delete(x);
    const wake = c.wake;
    c.wake = null;
    wake?.();
  }
}
