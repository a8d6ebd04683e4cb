// The node's queue of tasks whose arguments are here, in order. Short tasks
// of one function leave it in batches (one message for many tasks), like a
// pool's concurrentTasks; a function's run time is an EWMA of its runs.
import type { LocalTask } from './local-task.js';

/** Batch short tasks only: below this EWMA run time (ms). */
const BATCH_BELOW_MS = 1;
const MAX_BATCH = 32;
/**
 * A group's members (groups.ts) go in larger batches: their slice is on this node already (the coordinator placed
 * it by room), so a deeper hand-off keeps nothing from a node that joins later, and the executor message is the
 * main thread's largest cost per member (bench/node-groups.ts: 128 against 32 took 0.68-0.72x its time, load 11).
 */
const MAX_MEMBER_BATCH = 128;
/**
 * A batch of members holds at most this much measured work (ms), as long as one task the node would not batch:
 * members posted to an executor are started there at once (async functions run side by side) and cannot be handed
 * back, so the rest of a slice waits here, where `giveBack` finds it (work stealing, issue 14). An empty member
 * (a few µs) still goes 128 at a time; one measured at 0.2 ms goes 5 at a time.
 */
const MEMBER_BATCH_MS = BATCH_BELOW_MS;

export class ReadyQueue {
  private ready: LocalTask[] = [];
  private head = 0;
  /** Entries dropped while queued (dropped()), not yet skipped over: not counted as waiting. */
  private stale = 0;
  private readonly ewma = new Map<string, number>();

  /** Tasks waiting (a dropped one stops counting at once, not when the queue reaches it). */
  get length(): number {
    return Math.max(0, this.ready.length - this.head - this.stale);
  }

  /** A queued task left the ready state (handed back, cancelled): it is skipped when reached. */
  dropped(): void {
    this.stale++;
  }

  push(t: LocalTask, front: boolean): void {
    if (!front) this.ready.push(t);
    else if (this.head > 0) this.ready[--this.head] = t;
    else this.ready.unshift(t);
  }

  /** The first task still ready (tasks dropped meanwhile are skipped over), or none. */
  peek(): LocalTask | undefined {
    while (this.head < this.ready.length) {
      const t = this.ready[this.head];
      if (t.state === 'ready') return t;
      this.skip();
    }
    return undefined;
  }

  /**
   * Moves past the head of the ready queue, clearing its slot: left in place,
   * every task run since the last compaction would stay reachable, and with it
   * its argument bytes (a 1 MiB object each) long after the store let them go.
   */
  shift(): void {
    (this.ready as (LocalTask | undefined)[])[this.head++] = undefined;
  }

  private skip(): void {
    this.shift();
    this.stale = this.head === this.ready.length ? 0 : Math.max(0, this.stale - 1);
  }

  /** Takes `head` and, when its function is short, the ready tasks of the same function behind it (shared over `free` executors). */
  takeBatch(head: LocalTask, free: number): LocalTask[] {
    this.shift();
    const batch = [head];
    const e = this.ewma.get(head.spec.fnId);
    if (e === undefined || e >= BATCH_BELOW_MS || head.spec.timeoutMs > 0) return batch;
    const most = head.member ? Math.min(MAX_MEMBER_BATCH, Math.max(1, Math.floor(MEMBER_BATCH_MS / e))) : MAX_BATCH;
    const limit = Math.min(most, Math.ceil(this.length / Math.max(1, free)) + 1);
    while (batch.length < limit && this.head < this.ready.length) {
      const t = this.ready[this.head];
      if (t.state !== 'ready') {
        this.skip();
        continue;
      }
      if (t.spec.fnId !== head.spec.fnId || t.spec.timeoutMs > 0) break;
      batch.push(t);
      this.shift();
    }
    return batch;
  }

  /** Drops the cleared slots once they are most of the array. */
  compact(): void {
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
  }

  recordRun(fnId: string, ms: number): void {
    const e = this.ewma.get(fnId);
    this.ewma.set(fnId, e === undefined ? ms : e + 0.2 * (ms - e));
  }
}
