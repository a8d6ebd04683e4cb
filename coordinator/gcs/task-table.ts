// The task table (issue 14): a map by task id that also keeps its tasks in
// submit order, over all jobs and per job, each numbered by a submit sequence
// (1, 2, ...). The state API pages through it from a sequence number (the
// `after` cursor of /api/tasks) with a binary search, never by a walk from
// the first task; adding and dropping a task stay O(1) amortised.
import type { JobId, TaskId } from '../../shared/ids.js';
import { JoinOrder } from '../scheduler/join-order.js';
import type { TaskPlace, TaskRecord } from './tables.js';
import { idShard, ShardedMap } from '../id-shards.js';

/** A task's places: in the submit order of all tasks and of its job (one object for both, issue 14). */
interface Entry extends TaskPlace {
  seq: number;
  slot: number;
  jobSlot: number;
  t: TaskRecord;
  /** Its job's order: a take finds it without a lookup. */
  jo: JoinOrder<Entry, 'jobSlot'>;
  /** Taken out of the table. */
  out: boolean;
}

/** What readers of the table see: a read-only map and the submit-ordered pages. */
export interface TaskTableView extends ReadonlyMap<TaskId, Readonly<TaskRecord>> {
  seqOf(id: TaskId): number;
  jobSize(job: JobId): number;
  scan(
    after: number,
    limit: number,
    keep: (t: Readonly<TaskRecord>) => boolean,
    budget: number,
    job?: JobId,
  ): { page: { seq: number; t: Readonly<TaskRecord> }[]; through: number | null };
}

export class TaskTable implements TaskTableView {
  private readonly byId = new ShardedMap<TaskId, Entry>(idShard);
  private readonly order = new JoinOrder<Entry>();
  private readonly jobs = new Map<JobId, JoinOrder<Entry, 'jobSlot'>>();
  private nextSeq = 1;

  get size(): number {
    return this.byId.size;
  }

  get(id: TaskId): TaskRecord | undefined {
    return this.byId.get(id)?.t;
  }

  has(id: TaskId): boolean {
    return this.byId.has(id);
  }

  /** A task on record; one already there keeps its place. */
  set(id: TaskId, t: TaskRecord): this {
    const old = this.byId.get(id);
    if (old) {
      old.t = t;
      return this;
    }
    this.add(id, t);
    return this;
  }

  /** A task not on record yet (the caller looked: admit), without a second look; returns its place. */
  add(id: TaskId, t: TaskRecord): TaskPlace {
    let jo = this.jobs.get(t.spec.jobId);
    if (!jo) this.jobs.set(t.spec.jobId, (jo = new JoinOrder<Entry, 'jobSlot'>('jobSlot')));
    const e: Entry = { seq: this.nextSeq++, slot: 0, jobSlot: 0, t, jo, out: false };
    this.byId.set(id, e);
    this.order.add(e);
    jo.add(e);
    return e;
  }

  /** `n` submit sequence numbers for tasks kept elsewhere (a task group's members, coordinator/groups): the first. */
  reserve(n: number): number {
    const first = this.nextSeq;
    this.nextSeq += n;
    return first;
  }

  /** The record on record under the task id of `place`: its own while it is there (no lookup), else whatever is. */
  at(place: TaskPlace): TaskRecord | undefined {
    const e = place as Entry;
    return e.out ? this.get(e.t.spec.taskId) : e.t;
  }

  delete(id: TaskId): boolean {
    return this.take(id) !== undefined;
  }

  /** Drops a task from the table and returns its record and submit sequence number (undefined: not on record). */
  take(id: TaskId): Readonly<{ t: TaskRecord; seq: number }> | undefined {
    const e = this.byId.get(id);
    if (!e) return undefined;
    this.byId.delete(id);
    e.out = true;
    this.order.remove(e);
    e.jo.remove(e);
    if (e.jo.length === 0) this.jobs.delete(e.t.spec.jobId); // emptied: the map's own (a new one is made only when none is there)
    return e;
  }

  /** The task's submit sequence number; 0 when it is not on record. */
  seqOf(id: TaskId): number {
    return this.byId.get(id)?.seq ?? 0;
  }

  jobSize(job: JobId): number {
    return this.jobs.get(job)?.length ?? 0;
  }

  /** Tasks submitted after seq `after` (of `job` if given) that `keep`, looking at no more than `budget` (JoinOrder.scan). */
  scan(after: number, limit: number, keep: (t: TaskRecord) => boolean, budget: number, job?: JobId): { page: Entry[]; through: number | null } {
    if (job === undefined) return this.order.scan(after, limit, (e) => keep(e.t), budget);
    return this.jobs.get(job)?.scan(after, limit, (e) => keep(e.t), budget) ?? { page: [], through: null };
  }

  *entries(): MapIterator<[TaskId, TaskRecord]> {
    for (const [id, e] of this.byId) yield [id, e.t];
  }

  keys(): MapIterator<TaskId> {
    return this.byId.keys();
  }

  *values(): MapIterator<TaskRecord> {
    for (const e of this.byId.values()) yield e.t;
  }

  [Symbol.iterator](): MapIterator<[TaskId, TaskRecord]> {
    return this.entries();
  }

  forEach(fn: (t: TaskRecord, id: TaskId, map: ReadonlyMap<TaskId, TaskRecord>) => void): void {
    for (const [id, e] of this.byId) fn(e.t, id, this);
  }
}
