// The scheduler's queues: one per scheduling class (function, resources,
// policy), in submit order, with cancelled or placed entries skipped lazily.
import type { TaskRecord } from '../gcs/tables.js';

export class ClassQueue {
  private items: TaskRecord[] = [];
  private head = 0;
  /**
   * Tasks queued again (a node gave them back unstarted, or was lost with them): ahead of `items`, oldest submitted
   * first. Each used to go to the very front, so a frame of give-backs (a busy node refusing a driver's direct tasks
   * one by one) queued them in reverse: a driver getting its results in order waited for the last first.
   */
  private again: TaskRecord[] = [];
  private againHead = 0;
  /** `left`: a task leaves the scheduler's count of queued ones (scheduler.ts queuedCount). */
  constructor(private readonly left: (t: TaskRecord) => void) {}

  push(t: TaskRecord): void {
    this.items.push(t);
  }

  /** `t` is queued again: ahead of the first-time tasks, after those queued again that were submitted before it. */
  pushAgain(t: TaskRecord): void {
    const a = this.again;
    let lo = this.againHead;
    let hi = a.length;
    // After every entry submitted at or before it (a frame's give-backs keep their order within one millisecond).
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid].submittedAt <= t.submittedAt) lo = mid + 1;
      else hi = mid;
    }
    if (lo === a.length) a.push(t);
    else if (lo === this.againHead && this.againHead > 0) a[--this.againHead] = t;
    else a.splice(lo, 0, t);
  }

  /** Moves past the head, dropping the reference: a finished task must not stay reachable from here. */
  private clearHead(): void {
    if (this.againHead < this.again.length) {
      this.left(this.again[this.againHead]);
      (this.again as (TaskRecord | undefined)[])[this.againHead++] = undefined;
      if (this.againHead === this.again.length) {
        this.again = [];
        this.againHead = 0;
      }
      return;
    }
    this.left(this.items[this.head]);
    (this.items as (TaskRecord | undefined)[])[this.head++] = undefined;
  }

  get size(): number {
    return this.again.length - this.againHead + this.items.length - this.head;
  }

  peek(): TaskRecord | undefined {
    while (this.againHead < this.again.length && this.again[this.againHead].state !== 'queued') this.clearHead();
    if (this.againHead < this.again.length) return this.again[this.againHead];
    while (this.head < this.items.length && this.items[this.head].state !== 'queued') this.clearHead();
    return this.items[this.head];
  }

  /** Takes the task `peek` returned. */
  shift(): void {
    this.clearHead();
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  /** What is queued, in the order it leaves (a stuck class's report). */
  list(): TaskRecord[] {
    return [...this.again.slice(this.againHead), ...this.items.slice(this.head)];
  }
}

/**
 * The last plain class's key, by its function id and resources object (a spec's resources are never written to,
 * and admit shares one object per request): a job's tasks come in runs of one function, and the key, built
 * by concatenation, was a new string of ~60 characters a task, flattened again by each Map lookup (issue 14, session 14).
 */
let lastFn: string | undefined;
let lastResources: object | undefined;
let lastKey = '';

/** A task's scheduling class: tasks of one class are placed in order. */
export function classKey(t: TaskRecord): string {
  const s = t.spec;
  const plain = s.scheduling === undefined && !t.replicas;
  if (plain && s.fnId === lastFn && s.resources === lastResources) return lastKey;
  let key: string = s.fnId;
  for (const r in s.resources) key += `|${r}=${s.resources[r]}`;
  const sch = s.scheduling;
  if (sch === 'spread') key += '|spread';
  else if (typeof sch === 'object' && sch !== null) key += `|node=${sch.node}${sch.soft ? (sch.spill ? '~>' : '~') : ''}`;
  // A replica that no free node may take must not hold up other tasks of its class.
  if (t.replicas) key += `|replica=${s.taskId}`;
  if (plain) {
    lastFn = s.fnId;
    lastResources = s.resources;
    lastKey = key;
  }
  return key;
}
