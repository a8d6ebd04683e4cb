// The coordinator's sessions flush their outboxes here, a slice per turn
// (issue 14). Each frame sent is a socket write; a scheduler pass that gave
// work to 2,000 nodes of a 10,000-node mesh ended in 2,000 writes in one
// check phase (a 741 ms stretch under load). Here at most `perTurn` outboxes
// (and FLUSH_MS) flush in one turn, oldest first; the rest go in the next turns, so the loop
// serves incoming frames and HTTP in between. Order within a session is kept:
// an outbox holds its messages in order until its turn comes.
import type { FlushTurns, Outbox } from '../shared/protocol/frame.js';
import { nextTurn } from '../shared/turn.js';
import { loopBudget } from './loop-budget.js';

/** Outboxes flushed in one turn, at most. */
export const FLUSH_PER_TURN = 256;
/**
 * ...and for at most this long (the clock read after every flush): 256 outboxes of a busy pass's assigns took 18
 * ms CPU at 10,000 nodes. A flush is an encode and a socket write of up to FRAME_MAX_MSGS messages, and reads the
 * clock itself (Outbox.lastSent): reading it only every 16 let a turn's flush run up to 15 frames past its deadline
 * (issue 14, session 23).
 */
export const FLUSH_MS = 8;

export class SessionFlushes implements FlushTurns {
  private queue: Outbox[] = [];
  private head = 0;
  private scheduled = false;
  /**
   * The most outboxes one turn flushed, turns that left some for the next at the count bound, and turns cut at
   * FLUSH_MS (for /api/stats and tests).
   */
  maxPerTurn = 0;
  carried = 0;
  timed = 0;
  /**
   * Idle outboxes sent to wait for their turn because the loop iteration's budget was spent when they asked, and
   * idle outboxes' microtasks cut at their deadline (for /api/stats and tests).
   */
  deferred = 0;
  nowTimed = 0;

  constructor(readonly perTurn = FLUSH_PER_TURN) {}

  /** Idle outboxes let send at once this turn: at most `perTurn` of them, besides the `perTurn` queued ones a turn flushes. */
  private nowCount = 0;
  private nowReset = false;
  /** Those waiting for the microtask that flushes them. */
  private nowQueue: Outbox[] = [];

  now(o: Outbox): boolean {
    if (this.nowCount >= this.perTurn) return false;
    // The iteration's budget is spent (loop-budget.ts): it waits for its turn, a sliced flush, like a busy one.
    if (loopBudget.inIteration && performance.now() > loopBudget.iterationEnd) {
      this.deferred++;
      return false;
    }
    if (!this.nowReset) {
      this.nowReset = true;
      nextTurn(() => {
        this.nowCount = 0;
        this.nowReset = false;
      });
    }
    this.nowCount++;
    if (this.nowCount > this.maxPerTurn) this.maxPerTurn = this.nowCount;
    if (this.nowQueue.push(o) === 1) queueMicrotask(this.flushNow);
    return true;
  }

  /**
   * The idle outboxes' microtask: one for those of a callback, a flush part of the loop budget (its long iterations
   * by part), bounded like a turn's flush (FLUSH_MS, the iteration's budget): 100 idle outboxes of a pass flushed
   * here took 9.8 ms CPU at 100 nodes under load, 256 of them 16 ms quiet, with no clock read (issue 14, session 22).
   * Those past the deadline wait for their turn.
   */
  private readonly flushNow = (): void => {
    const deadline = loopBudget.until(FLUSH_MS, performance.now(), 'flush');
    const q = this.nowQueue;
    this.nowQueue = [];
    let i = flushUntil(q, 0, q.length, deadline);
    if (i < q.length) {
      this.nowTimed++;
      // At the queue's tail, behind outboxes waiting from earlier turns (none waits for good).
      for (; i < q.length; i++) this.add(q[i]);
    }
    loopBudget.done();
  };

  add(o: Outbox): void {
    this.queue.push(o);
    if (!this.scheduled) {
      this.scheduled = true;
      nextTurn(this.drain);
    }
  }

  /** Outboxes waiting for their turn. */
  get size(): number {
    return this.queue.length - this.head;
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    // Only what was queued before this turn: an outbox added while flushing waits for the next.
    const end = Math.min(this.queue.length, this.head + this.perTurn);
    // FLUSH_MS, and not past the loop iteration's budget (but its floor: some flush every iteration).
    const deadline = loopBudget.until(FLUSH_MS, performance.now(), 'flush');
    const from = this.head;
    this.head = flushUntil(this.queue, from, end, deadline);
    const timed = this.head < end;
    const k = this.head - from;
    if (k > this.maxPerTurn) this.maxPerTurn = k;
    loopBudget.done();
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (timed) this.timed++;
    else this.carried++;
    if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.scheduled = true;
    nextTurn(this.drain);
  };
}

/**
 * Flushes outboxes `q[from]` to `q[to - 1]` in order, each slot cleared as it goes, until `deadline` (the clock read
 * after each flush): the index it stopped at (`to` when all went).
 */
function flushUntil(q: Outbox[], from: number, to: number, deadline: number): number {
  let i = from;
  while (i < to) {
    const o = q[i];
    (q as (Outbox | undefined)[])[i++] = undefined;
    o.turnFlush();
    if (i < to && performance.now() > deadline) break;
  }
  return i;
}
