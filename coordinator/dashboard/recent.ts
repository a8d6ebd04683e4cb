// Tasks, objects and actors that left the GCS (a task's lineage dropped, an
// object freed, an actor forgotten when its handles went or its job ended),
// kept a while with their final state so that the dashboard's tables and the
// state API still list them instead of losing them the moment a job ends.
// Bounded by age and count; recording one is a map insert.
import { ownId, type TaskId } from '../../shared/ids.js';
import type { Coordinator } from '../coordinator.js';
import { actorView, objectView } from '../http/views.js';
import { EndedTasks } from './ended-tasks.js';
import { viewOf } from './task-history.js';

export const KEEP_MS = 10 * 60_000;
export const MAX_EACH = 5000;

export type ObjectView = ReturnType<typeof objectView>;
export type ActorView = ReturnType<typeof actorView>;

interface Entry<V> {
  id: string;
  at: number;
  v: V;
  /** Added again since: a newer entry stands for the id. */
  gone: boolean;
}

/** Views by id, oldest first; past `keepMs` or `max` the oldest go. */
export class Recent<V> {
  private readonly items = new Map<string, Entry<V>>();
  /**
   * Insertion order, oldest at `head`: the oldest leaves by index (taking a
   * map's first key instead walks past every entry deleted before it, issue 14).
   */
  private order: (Entry<V> | undefined)[] = [];
  private head = 0;

  constructor(
    private readonly keepMs = KEEP_MS,
    private readonly max = MAX_EACH,
  ) {}

  add(id: string, v: V, now = Date.now()): void {
    const old = this.items.get(id);
    if (old) old.gone = true;
    const e: Entry<V> = { id: ownId(id), at: now, v, gone: false };
    this.items.set(e.id, e);
    this.order.push(e);
    while (this.items.size > this.max) this.dropOldest();
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
      if (!e.gone) out.push(e.v);
    }
    return out;
  }

  get size(): number {
    return this.items.size;
  }
}

export class EndedRecords {
  readonly tasks: EndedTasks;
  readonly objects: Recent<ObjectView>;
  readonly actors: Recent<ActorView>;

  constructor(
    private readonly c: Coordinator,
    keepMs = KEEP_MS,
  ) {
    this.tasks = new EndedTasks(keepMs, MAX_EACH);
    this.objects = new Recent(keepMs);
    this.actors = new Recent(keepMs);
  }

  /** Taps the moments records leave their tables (as TaskHistory does); returns the undo. */
  attach(): () => void {
    const { gcs } = this.c;
    const actors = this.c.actors;
    // The originals, called with their `this` below (.call): these methods are wrapped, not detached.
    /* eslint-disable @typescript-eslint/unbound-method */
    const dropTask = gcs.dropTask;
    const dropObject = gcs.dropObject;
    const handlesGone = actors.handlesGone;
    const endJob = actors.endJob;
    /* eslint-enable @typescript-eslint/unbound-method */
    gcs.dropTask = (id) => {
      const t = gcs.tasks.get(id);
      if (t) this.tasks.add(id, gcs.tasks.seqOf(id), viewOf(t));
      dropTask.call(gcs, id);
    };
    gcs.dropObject = (id) => {
      const o = gcs.objects.get(id);
      if (o) this.objects.add(id, objectView(o, true));
      dropObject.call(gcs, id);
    };
    // An actor's record goes in these two; what was there before and is gone after ended.
    const keepGone = <R>(ids: TaskId[], run: () => R): R => {
      const before = ids.map((id) => actors.get(id)).filter((a) => a !== undefined);
      const r = run();
      for (const a of before) if (!actors.has(a.id)) this.actors.add(a.id, actorView(a));
      return r;
    };
    actors.handlesGone = (id) => keepGone([id], () => handlesGone.call(actors, id));
    actors.endJob = (job) =>
      keepGone(
        actors
          .list()
          .filter((a) => a.job === job)
          .map((a) => a.id),
        () => endJob.call(actors, job),
      );
    return () => {
      gcs.dropTask = dropTask;
      gcs.dropObject = dropObject;
      actors.handlesGone = handlesGone;
      actors.endJob = endJob;
    };
  }
}
