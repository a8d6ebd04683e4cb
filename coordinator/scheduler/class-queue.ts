// The scheduler's queues: one per scheduling class (function, resources,
// policy), in submit order, with cancelled or placed entries skipped lazily.
import type { TaskRecord } from '../gcs/tables.js';

export class ClassQueue {
  items: TaskRecord[] = [];
  head = 0;
  /** `left`: a task leaves the scheduler's count of queued ones (scheduler.ts queuedCount). */
  constructor(private readonly left: (t: TaskRecord) => void) {}
  /** Moves past the head, dropping the reference: a finished task must not stay reachable from here. */
  private clearHead(): void {
    this.left(this.items[this.head]);
    (this.items as (TaskRecord | undefined)[])[this.head++] = undefined;
  }
  get size(): number {
    return this.items.length - this.head;
  }
  peek(): TaskRecord | undefined {
    while (this.head < this.items.length && this.items[this.head].state !== 'queued') this.clearHead();
    return this.items[this.head];
  }
  shift(): void {
    this.clearHead();
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
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
