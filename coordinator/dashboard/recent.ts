// Tasks, objects and actors that left the GCS (a task's lineage dropped, an
// object freed, an actor forgotten when its handles went or its job ended),
// kept a while with their final state so that the dashboard's tables and the
// state API still list them instead of losing them the moment a job ends.
// Bounded by age and count; recording one is a map insert. A freed object
// keeps only what its row cannot derive from its id; the row is built when
// read (the state API), not for each of the 100,000s freed (issue 14).
import { isPutObject, ownId, taskOfObject, type JobId, type ObjectId, type TaskId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import type { Failure } from '../../shared/errors.js';
import type { ObjectRecord } from '../gcs/tables.js';
import type { MemberEnds } from '../groups/group-table.js';
import { actorView, objectView } from '../http/views.js';
import { EndedTasks } from './ended-tasks.js';
import { StageRing } from './stage-ring.js';
import { commonCopy, type TaskHistory } from './task-history.js';

export const KEEP_MS = 10 * 60_000;
export const MAX_EACH = 5000;

export type ObjectView = ReturnType<typeof objectView>;
export type ActorView = ReturnType<typeof actorView>;

/** What a freed object's row needs that its id does not give: its own strings, no bytes, no sessions. */
export interface FreedObject {
  id: ObjectId;
  job: JobId;
  size: number;
  inline: boolean;
  refs: number;
  error: string | null;
}

/** What a freed object's row is made from: its record, or a slot staged from it (FreedObjects). */
type FreedSource = Pick<ObjectRecord, 'id' | 'job' | 'size' | 'refs' | 'failure'>;

/** A freed object's row, with strings of its own; `inline`: its value was held by the GCS. */
function freedRow(o: FreedSource, inline: boolean): FreedObject {
  return {
    id: ownId(o.id),
    job: commonCopy(o.job),
    size: o.size,
    inline,
    refs: o.refs,
    error: o.failure ? `${o.failure.name}: ${o.failure.message}` : null,
  };
}

export function freedObject(o: ObjectRecord): FreedObject {
  return freedRow(o, o.v !== null);
}

/** The row of a freed object: objectView(o, true) of the record it was, built when read. */
export function freedView(f: FreedObject): ObjectView {
  const put = isPutObject(f.id);
  return {
    id: f.id,
    job: f.job,
    state: 'freed',
    size: f.size,
    inline: f.inline,
    refs: f.refs,
    task: put ? null : ownId(taskOfObject(f.id)),
    put,
    locations: [],
    error: f.error,
  };
}

interface Entry<S> {
  id: string;
  at: number;
  v: S;
  /** Added again since: a newer entry stands for the id. */
  gone: boolean;
}

/** Views by id, oldest first; past `keepMs` or `max` the oldest go. Kept as `S`, listed as `view(S)`. */
export class Recent<V, S = V> {
  private readonly items = new Map<string, Entry<S>>();
  /**
   * Insertion order, oldest at `head`: the oldest leaves by index (taking a
   * map's first key instead walks past every entry deleted before it, issue 14).
   */
  private order: (Entry<S> | undefined)[] = [];
  private head = 0;

  constructor(
    private readonly keepMs = KEEP_MS,
    private readonly max = MAX_EACH,
    private readonly view: (s: S) => V = (s) => s as unknown as V,
  ) {}

  add(id: string, v: S, now = Date.now()): void {
    this.addOwned(ownId(id), v, now);
  }

  /**
   * Added since the last read, in order, not filed yet (issue 14, session 17: a burst frees 20,000 objects
   * between two reads, of which `max` are kept): a read files the newest `max`; at most 2 x `max` wait.
   */
  private staged: Entry<S>[] = [];
  /** Entries filed so far (what the upkeep cost: tests). */
  filed = 0;

  /** As add, `id` a string of its own already (not a slice of a frame's): kept as it is. */
  addOwned(id: string, v: S, now = Date.now()): void {
    // The older half would never be filed: dropped now, so that a burst without reads holds at most 2 x max.
    if (this.staged.push({ id, at: now, v, gone: false }) >= 2 * this.max) this.staged.splice(0, this.max);
  }

  /** Files the staged entries, the newest `max` only (older ones would leave at once; an id twice among them may keep fewer). */
  protected file(): void {
    const staged = this.staged;
    if (staged.length === 0) return;
    this.staged = [];
    for (let i = Math.max(0, staged.length - this.max); i < staged.length; i++) {
      const e = staged[i];
      this.filed++;
      const old = this.items.get(e.id);
      if (old) old.gone = true;
      this.items.set(e.id, e);
      this.order.push(e);
      while (this.items.size > this.max) this.dropOldest();
    }
  }

  private dropOldest(): void {
    while (this.head < this.order.length) {
      const e = this.order[this.head]!;
      this.order[this.head++] = undefined;
      if (!e.gone) {
        this.items.delete(e.id);
        break;
      }
    }
    this.compact();
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** The ones kept, the most recent first. */
  list(now = Date.now()): V[] {
    this.file();
    while (this.head < this.order.length) {
      const e = this.order[this.head]!;
      if (!e.gone) {
        if (now - e.at <= this.keepMs) break;
        this.items.delete(e.id);
      }
      this.order[this.head++] = undefined;
    }
    this.compact();
    const out: V[] = [];
    for (let i = this.order.length - 1; i >= this.head; i--) {
      const e = this.order[i]!;
      if (!e.gone) out.push(this.view(e.v));
    }
    return out;
  }

  get size(): number {
    this.file();
    return this.items.size;
  }
}

/** What a freed object's row is made from, as its record had it. */
interface Staged {
  id: ObjectId;
  job: JobId;
  size: number;
  inline: boolean;
  refs: number;
  failure: Failure | null;
  at: number;
}

/**
 * Freed objects (issue 14, session 24): staged from their records in slots written in place; a freed object's
 * kept row (its own id, its error text) is made only when a read files it, for the newest `max` of a burst,
 * not for each of the 20,000 it frees.
 */
export class FreedObjects extends Recent<ObjectView, FreedObject> {
  private readonly ring: StageRing<Staged>;

  constructor(keepMs: number, max: number) {
    super(keepMs, max, freedView);
    this.ring = new StageRing<Staged>(max, () => ({ id: '' as ObjectId, job: '' as JobId, size: 0, inline: false, refs: 0, failure: null, at: 0 }));
  }

  /** An object freed now (the GCS's drop listener). */
  addRecord(o: ObjectRecord, now = Date.now()): void {
    const s = this.ring.take();
    // A put's id is a slice of the frame it came in: a slot kept until overwritten must not hold the frame's strings.
    s.id = isPutObject(o.id) ? ownId(o.id) : o.id;
    s.job = o.job;
    s.size = o.size;
    s.inline = o.v !== null;
    s.refs = o.refs;
    s.failure = o.failure;
    s.at = now;
  }

  protected override file(): void {
    if (this.ring.length > 0) {
      this.ring.drain((s) => {
        const f = freedRow(s, s.inline);
        this.addOwned(f.id, f, s.at);
        s.failure = null;
      });
    }
    super.file();
  }
}

export class EndedRecords {
  readonly tasks: EndedTasks;
  readonly objects: FreedObjects;
  readonly actors: Recent<ActorView>;

  /** `history`: the task history is fed from the same tap (it makes a view only for a task it keeps). */
  constructor(
    private readonly c: Coordinator,
    keepMs = KEEP_MS,
    private readonly history?: TaskHistory,
  ) {
    this.tasks = new EndedTasks(keepMs, MAX_EACH);
    this.objects = new FreedObjects(keepMs, MAX_EACH);
    this.actors = new Recent(keepMs);
  }

  /**
   * A task group's member ended (GroupTable.ends): into the task history (its job's views) and, as the task it is,
   * into the ended tasks (the dashboard's Tasks list, as a task that left: issue 14, session 28).
   */
  readonly memberEnded: MemberEnds = (grp, i, end, n, ex, ms, at) => {
    const when = at || Date.now();
    this.history?.memberEnded(grp, i, end, n, ex, ms, when);
    this.tasks.addMember(grp, i, end, n?.id ?? null, ex, ms, when);
  };

  /**
   * Listens to the moments records leave their tables (the GCS's drop listener; actors by a tap) and task groups'
   * members end; returns the undo.
   */
  attach(): () => void {
    const { gcs } = this.c;
    const groups = this.c.groups?.table;
    if (groups) groups.ends = this.memberEnded;
    const actors = this.c.actors;
    // The originals, called with their `this` below (.call): these methods are wrapped, not detached.
    /* eslint-disable @typescript-eslint/unbound-method */
    const handlesGone = actors.handlesGone;
    const endJob = actors.endJob;
    /* eslint-enable @typescript-eslint/unbound-method */
    // A guest job's records (tasks run here for another coordinator, issue 15) are its owner's to list: the GCS tells none.
    gcs.dropListener = {
      // Staged from the record, no view made (ended-tasks.ts); the history makes one only for a task it keeps.
      task: (t, seq) => {
        this.tasks.addTask(t, seq);
        this.history?.record(t);
      },
      object: (o) => this.objects.addRecord(o),
    };
    // An actor's record goes in these two; what was there before and is gone after ended.
    const keepGone = <R>(ids: TaskId[], run: () => R): R => {
      const before = ids.map((id) => actors.get(id)).filter((a) => a !== undefined);
      const r = run();
      for (const a of before) if (!actors.has(a.id)) this.actors.add(a.id, actorView(a));
      return r;
    };
    actors.handlesGone = (id) => keepGone([id], () => handlesGone.call(actors, id));
    actors.endJob = (job, tellNodes) =>
      keepGone(
        actors
          .list()
          .filter((a) => a.job === job)
          .map((a) => a.id),
        () => endJob.call(actors, job, tellNodes),
      );
    return () => {
      gcs.dropListener = null;
      if (groups?.ends === this.memberEnded) groups.ends = null;
      actors.handlesGone = handlesGone;
      actors.endJob = endJob;
    };
  }
}
