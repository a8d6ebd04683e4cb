// What a driver knows of each object it holds, in one record per object
// (issue 14, session 13): its handle count, the submission that makes it (sent
// again on a resume while any of its outputs is held), its value if it is a
// small put (put again on a resume), and its readiness (the ObjectClient's
// subscription). Before, a task cost four map entries: a handle count, a held
// id, a resume spec and a subscription, each set, looked up and deleted on its own.
import { returnObjectId, type ObjectId } from '../ids.js';
import type { TaskSpec } from '../protocol/messages.js';
import type { ReadyInfo, Subscription, SubscriptionTable } from './object-client.js';
import type { OwnedGroup } from './owned-group.js';

/** A submitted task while any of its outputs is held. */
interface Submission {
  readonly spec: TaskSpec;
  /** Its outputs whose handles are not released yet. */
  live: number;
}

export class HeldObject implements Subscription {
  /** Handles on it that are alive (not yet freed or garbage-collected). */
  count = 0;
  /**
   * The GCS counts this driver as a holder (it submitted, put or borrowed it),
   * so a resume names it. A named actor's handle is counted but not told.
   */
  told = false;
  /** The task that makes it. */
  task: Submission | null = null;
  /** Its value and the refs in it, when it is a put small enough to travel inline. */
  small: { v: Uint8Array; refs: ObjectId[] } | null = null;
  info: ReadyInfo | undefined = undefined;
  waiters: Array<(info: ReadyInfo) => void> | null = null;
  asked = false;
  /** The task group it is member `idx` of (group-table.ts), while the driver holds it: null for a task submitted alone or a put. */
  group: OwnedGroup | null = null;
  idx = 0;
}

export class HeldObjects implements SubscriptionTable {
  private readonly records = new Map<ObjectId, HeldObject>();
  /**
   * Submissions without outputs that the coordinator may not have yet: no
   * handle tells when they end, so each is kept until the coordinator has
   * handled it (`received`), and a resume sends those again (issue 14, session
   * 14). Before, they were kept for the job's life, and every resume ran again
   * those that had ended (their records go when they end).
   */
  private readonly noOutputs: TaskSpec[] = [];
  /** How many went into `noOutputs` since the start (those out of it are the first `noOutputsIn - noOutputs.length`). */
  private noOutputsIn = 0;

  get size(): number {
    return this.records.size;
  }

  get(id: ObjectId): HeldObject | undefined {
    return id === this.lastId ? this.lastRecord : this.records.get(id);
  }

  open(id: ObjectId): HeldObject {
    // A submit opens its output's record, then its handle counts in it: the second time is the record in hand.
    if (id === this.lastId) return this.lastRecord!;
    let r = this.records.get(id);
    if (!r) this.records.set(id, (r = new HeldObject()));
    this.lastId = id;
    this.lastRecord = r;
    return r;
  }

  /** The record opened last and its id (undefined when it went): a second look at it is no map lookup. */
  private lastId: ObjectId | undefined = undefined;
  private lastRecord: HeldObject | undefined = undefined;

  private forget(id: ObjectId): void {
    this.records.delete(id);
    if (id === this.lastId) this.lastId = this.lastRecord = undefined;
  }

  entries(): IterableIterator<[ObjectId, HeldObject]> {
    return this.records.entries();
  }

  /** Its readiness reached its waiters: a record whose handles all went meanwhile (see `released`) goes now. */
  settled(id: ObjectId, r: HeldObject): void {
    if (r.count === 0 && !r.told && r.task === null && r.small === null) this.forget(id);
  }

  /** Its outputs' records, before their handles are counted (the Mesh tracks them next). */
  submitted(spec: TaskSpec): void {
    const n = spec.numReturns;
    if (n === 0) {
      this.noOutputs.push(spec);
      this.noOutputsIn++;
      return;
    }
    const task: Submission = { spec, live: n };
    for (let i = 0; i < n; i++) {
      const r = this.open(returnObjectId(spec.taskId, i));
      r.told = true;
      r.task = task;
    }
  }

  /**
   * A group member that left its group (materialized): an ordinary submission from now on, held once at the
   * coordinator (the `materialize` made that hold), sent again as a plain submit on a resume.
   */
  materialized(id: ObjectId, spec: TaskSpec): void {
    const r = this.records.get(id);
    if (!r) return;
    r.told = true;
    r.task = { spec, live: 1 };
  }

  /** A put of this driver (`small`: its value travels inline and is put again on a resume). */
  put(id: ObjectId, small: { v: Uint8Array; refs: ObjectId[] } | null): void {
    const r = this.open(id);
    r.told = true;
    r.small = small;
  }

  /** The GCS was told this driver holds them. */
  borrowed(ids: readonly ObjectId[]): void {
    for (const id of ids) this.open(id).told = true;
  }

  /** One more handle: true when it is the first. */
  hold(id: ObjectId): boolean {
    const r = this.open(id);
    return ++r.count === 1;
  }

  /** One handle fewer: true when it was the last (the caller releases it). */
  unhold(id: ObjectId): boolean {
    const r = this.records.get(id);
    if (!r || r.count === 0) return false;
    return --r.count === 0;
  }

  /** Its last handle went: forgotten, unless a get still waits for it (it learns of readiness all the same). */
  released(id: ObjectId): void {
    const r = this.records.get(id);
    if (!r) return;
    if (r.task) r.task.live--;
    if (r.waiters?.length) {
      r.task = null;
      r.small = null;
      r.told = false;
    } else this.forget(id);
  }

  /** The ids a resume names as held, in the order they were first held. */
  heldIds(max = Infinity): ObjectId[] {
    const out: ObjectId[] = [];
    for (const [id, r] of this.records) {
      if (out.length >= max) break;
      if (r.told) out.push(id);
    }
    return out;
  }

  /** Where the submissions without outputs stand now: a mark for `received`; -1 when none waits. */
  unreceivedMark(): number {
    return this.noOutputs.length ? this.noOutputsIn : -1;
  }

  /** The coordinator has handled everything sent before `mark` was taken: those submissions without outputs are its. */
  received(mark: number): void {
    const n = mark - (this.noOutputsIn - this.noOutputs.length);
    if (n > 0) this.noOutputs.splice(0, n);
  }

  /** Submissions without outputs not yet known to be the coordinator's. */
  get unreceived(): number {
    return this.noOutputs.length;
  }

  /** The small puts still held, to put again on a resume. */
  *smallPuts(): Generator<[ObjectId, { v: Uint8Array; refs: ObjectId[] }]> {
    for (const [id, r] of this.records) if (r.told && r.small) yield [id, r.small];
  }

  /** The submissions with an output still held (and those without outputs), in the order they were submitted. */
  unfinished(): TaskSpec[] {
    const seen = new Set<Submission>();
    const out: TaskSpec[] = [];
    for (const r of this.records.values()) {
      const t = r.task;
      if (t && t.live > 0 && !seen.has(t)) {
        seen.add(t);
        out.push(t.spec);
      }
    }
    // Last: they may take others' outputs, and no task takes theirs.
    return this.noOutputs.length ? [...out, ...this.noOutputs] : out;
  }
}
