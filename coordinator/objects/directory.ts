// The object directory: where each object is, whether it is ready, and who
// refers to it. An object is freed when nothing refers to it (handles, pending
// tasks, containing objects) or its job ends; its lineage goes with it.
import type { Failure } from '../../shared/errors.js';
import type { JobId, ObjectId } from '../../shared/ids.js';
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, ObjectRecord, TaskPlace, TaskRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';
import { addObject, forgetObject } from '../jobs/job-tasks.js';
import { BySession } from './by-session.js';
import { Holders, NO_HOLDERS } from './holders.js';
import { Subscriptions } from './subscriptions.js';

/** What an object that holds no refs contains: one shared list (contains is replaced, never written to). */
const NO_CONTAINS = Object.freeze([]) as unknown as ObjectId[];

export interface DirectoryEvents {
  /** The object became ready or failed: wake its dependents. */
  settled(o: ObjectRecord, dependents: TaskRecord[]): void;
  /** The object was freed. */
  freed(o: ObjectRecord): void;
  /** A ready object's last copy went (dropped, or its holder lied or left): rebuild it or fail its readers. */
  lost(o: ObjectRecord, why: string): void;
  /** A task here (`by` null) or session `by` began to wait on pending object `o` (direct-hurry.ts). */
  awaited?(o: ObjectRecord, by: Session | null): void;
}

/** An object record as others see it: only the directory writes object records. */
export type ObjectView = Readonly<ObjectRecord>;

/** What holds handles on objects: a session, or a holder kept for one away (a task group's owner, group-reports.ts). */
export type Holder = Pick<Session, 'held'>;

export class ObjectDirectory {
  /** Objects each session holds a copy of (issue 14: a session's close costs what it had), and the readiness messages. */
  private readonly copies = new BySession<ObjectRecord>();
  private readonly subs: Subscriptions;

  constructor(
    private readonly gcs: Gcs,
    private readonly on: DirectoryEvents,
  ) {
    this.subs = new Subscriptions(gcs, (o, s) => on.awaited?.(o, s));
  }

  get(id: ObjectId): ObjectRecord | undefined {
    return this.gcs.objects.get(id);
  }

  /**
   * A new object record; `refs` counts the holders it starts with; `ofJob`: false, it does not end with its job
   * (artifacts); its job's record, when the caller has looked it up already (admit). `creator`: where the task
   * whose output it is is on record (admit).
   */
  create(id: ObjectId, job: JobId, refs: number, ofJob: boolean | JobRecord = true, creator: TaskPlace | null = null): ObjectRecord {
    const o: ObjectRecord = {
      id,
      job,
      state: 'pending',
      size: 0,
      hash: '',
      v: null,
      failure: null,
      locations: NO_HOLDERS,
      refs,
      contains: NO_CONTAINS,
      dependents: null,
      subscribers: null,
      creator,
      jobPrev: null,
      jobNext: null,
      jobList: null,
    };
    this.gcs.objects.set(id, o);
    const j = ofJob === true ? this.gcs.jobs.get(job) : ofJob || undefined;
    if (j) addObject(j, o);
    this.gcs.stats.objectsCreated++;
    return o;
  }

  /** Records a value: inline bytes (small) or a location holding them. */
  setReady(o: ObjectRecord, r: { v?: Uint8Array; size: number; hash?: string; location?: Session; contains: ObjectId[] }): void {
    if (o.state !== 'pending') {
      // A re-run produced it again: only a new location is news.
      if (r.location && o.state === 'ready') this.addLocation(o, r.location);
      return;
    }
    o.state = 'ready';
    o.size = r.size;
    o.hash = r.hash ?? '';
    if (r.v) o.v = r.v;
    if (r.location) this.addLocation(o, r.location);
    // A rebuilt object may already hold what it contains: take the new holds before dropping the old.
    const old = o.contains;
    o.contains = r.contains.length > 0 ? r.contains : NO_CONTAINS;
    // By index: `old` is often the shared frozen empty list, which `for...of` walks slowly (lineage.ts depsOf).
    for (let i = 0; i < r.contains.length; i++) this.addRef(r.contains[i]);
    for (let i = 0; i < old.length; i++) this.decRef(old[i]);
    this.gcs.persistObject(o);
    this.settle(o);
  }

  setFailed(o: ObjectRecord, failure: Failure): void {
    if (o.state !== 'pending') return;
    o.state = 'failed';
    o.failure = failure;
    this.gcs.persistObject(o);
    this.settle(o);
  }

  /** A ready object whose every copy is gone and that cannot be rebuilt: readers get ObjectLostError. */
  setFailedLost(o: ObjectRecord, why: string): void {
    if (o.v) return;
    o.state = 'failed';
    o.failure = { code: 'OBJECT_LOST', name: 'ObjectLostError', message: `object ${o.id} is lost: ${why}`, stack: '', functionName: '', taskId: o.id };
    this.gcs.persistObject(o);
    this.gcs.event('object-lost', o.failure.message, { object: o.id, job: o.job });
    this.settle(o);
  }

  /** A ready object lost its bytes and will be made again: it waits like a new one. */
  setRebuilding(o: ObjectRecord): void {
    if (o.state !== 'ready' || o.v) return;
    o.state = 'pending'; // its hash stays: a holder that comes back is checked against it
  }

  /** A failed object is coming back (a source of its bytes showed up): it waits like a new one. */
  setPendingAgain(o: ObjectRecord): void {
    if (o.state !== 'failed') return;
    o.state = 'pending';
    o.failure = null;
  }

  /** A row read back after a restart (gcs/recovery.ts): held once until drivers and nodes had time to claim it. */
  recovered(r: Pick<ObjectRecord, 'id' | 'job' | 'state' | 'size' | 'hash' | 'v' | 'failure' | 'contains'>): ObjectRecord {
    const o = this.create(r.id, r.job, 1);
    o.state = r.state;
    o.size = r.size;
    o.hash = r.hash;
    o.v = r.v;
    o.failure = r.failure;
    o.contains = r.contains;
    return o;
  }

  /** Task `t` waits for `o` (pending): it is told when `o` settles. */
  awaitedBy(o: ObjectRecord, t: TaskRecord): void {
    (o.dependents ??= []).push(t);
    this.on.awaited?.(o, null);
  }

  /** Session `s` holds a copy of the object's bytes. */
  addCopy(o: ObjectRecord, s: Session): void {
    this.addLocation(o, s);
  }

  /** The objects `s` holds a copy of (the dashboard's count per node). */
  copiesOf(s: Session): ReadonlySet<ObjectRecord> {
    return this.copies.of(s);
  }

  private addLocation(o: ObjectRecord, s: Session): void {
    if (o.locations === NO_HOLDERS) o.locations = new Holders();
    o.locations.add(s);
    this.copies.add(s, o);
  }

  /** A node stored a copy it fetched: counted when it matches the object. */
  copyStored(s: Session, id: ObjectId, size: number, hash: string): void {
    const o = this.gcs.objects.get(id);
    if (o && o.state === 'ready' && o.size === size && (!o.hash || o.hash === hash)) this.addLocation(o, s);
  }

  /** Session `s` no longer holds a copy (dropped it, or its claim is void); the last copy of a ready object is lost. */
  dropCopy(id: ObjectId, s: Session, why: string): void {
    const o = this.gcs.objects.get(id);
    if (!o || !o.locations.delete(s)) return;
    this.copies.delete(s, o);
    if (o.locations.size === 0 && !o.v && o.state === 'ready') this.on.lost(o, why);
  }

  /**
   * A node (a reloaded tab, a reconnected edge) says it holds a copy. Returns
   * false when that copy is stale (unknown, freed, or other bytes): the node drops it.
   */
  announced(s: Session, h: { id: ObjectId; size: number; hash: string }): boolean {
    const o = this.gcs.objects.get(h.id);
    if (!o || o.v || (o.state !== 'pending' && (!o.hash || o.hash !== h.hash)) || o.size !== h.size) return false;
    if (o.state === 'failed' && o.failure?.code === 'OBJECT_LOST') {
      // Its last copy went with the tab's old session; the reloaded tab has it
      // again (until lineage reconstruction, issue 6, this is the only way back).
      o.state = 'ready';
      o.failure = null;
      this.gcs.persistObject(o);
      this.gcs.event('object-recovered', `object ${o.id} is back on ${s.label}`, { object: o.id, job: o.job });
    }
    if (o.state === 'pending' && o.size > 0 && o.size === h.size) {
      // Being rebuilt from lineage (issue 6) since the tab's old session
      // closed: the copy is back, so it is ready now (a re-run that still
      // finishes only adds a location). Its contained refs are held already.
      // setReady trades the holds of what it contains for the same new ones.
      this.setReady(o, { size: h.size, hash: h.hash, location: s, contains: o.contains });
      this.gcs.event('object-recovered', `object ${o.id} is back on ${s.label}`, { object: o.id, job: o.job });
      return true;
    }
    if (o.state !== 'ready') return false;
    this.addLocation(o, s);
    return true;
  }

  private settle(o: ObjectRecord): void {
    this.subs.notify(o);
    const deps = o.dependents;
    o.dependents = null;
    if (deps) this.on.settled(o, deps);
    if (o.refs <= 0) this.free(o);
  }

  readyMessage(o: ObjectRecord): MsgOf<'ready'> {
    return this.subs.readyMessage(o);
  }

  /** Tells `s` when each object is ready (at once for those that are). */
  subscribe(s: Session, ids: ObjectId[]): void {
    this.subs.subscribe(s, ids);
  }

  /** A node says it sent object `id` straight to driver `s` (a result shortcut): its `ready` waits for the driver's `took`. */
  shortcut(id: ObjectId, s: Session): void {
    const o = this.gcs.objects.get(id);
    if (o) this.subs.shortcut(o, s);
  }

  /** Driver `s` took these objects' values from nodes' shortcuts (its `took`). */
  took(s: Session, ids: ObjectId[]): void {
    for (const id of ids) this.subs.took(s, id);
  }

  addRef(id: ObjectId, n = 1): void {
    const o = this.gcs.objects.get(id);
    if (o) o.refs += n;
  }

  decRef(id: ObjectId, n = 1): void {
    const o = this.gcs.objects.get(id);
    if (!o) return;
    o.refs -= n;
    if (o.refs <= 0 && o.state !== 'pending') this.free(o);
  }

  /** Session `s` takes a handle. */
  hold(s: Holder, id: ObjectId): boolean {
    const o = this.gcs.objects.get(id);
    if (!o) return false;
    this.holdRecord(s, o);
    return true;
  }

  /** Session `s` takes a handle on `o`, a record its caller has (admit: the one it just made; no lookup by id). */
  holdRecord(s: Holder, o: ObjectRecord): void {
    o.refs++;
    s.held.set(o.id, (s.held.get(o.id) ?? 0) + 1);
  }

  /** The handles `from` holds become session `to`'s (an owner back takes what was held for it meanwhile); counts unchanged. */
  handOver(from: Holder, to: Session): void {
    for (const [id, n] of from.held) to.held.set(id, (to.held.get(id) ?? 0) + n);
    from.held.clear();
  }

  /** Session `s` gives a handle up; only handles it holds count. */
  unhold(s: Holder, id: ObjectId): void {
    const n = s.held.get(id);
    if (!n) return;
    if (n === 1) s.held.delete(id);
    else s.held.set(id, n - 1);
    this.decRef(id);
  }

  /** Drops every handle of a closing session and every location it held. Returns objects left with no copy. */
  dropSession(s: Session): ObjectRecord[] {
    for (const [id, n] of s.held) this.decRef(id, n);
    s.held.clear();
    this.subs.dropSession(s);
    const orphaned: ObjectRecord[] = [];
    for (const o of this.copies.take(s)) if (o.locations.delete(s) && o.locations.size === 0 && o.state === 'ready' && !o.v) orphaned.push(o);
    return orphaned;
  }

  /** Frees an object: its copies, what it contains, and (through `freed`) its lineage. */
  free(o: ObjectRecord): void {
    const job = this.gcs.jobs.get(o.job);
    if (!this.gcs.dropObject(o, job)) return;
    o.freed = true;
    if (job) forgetObject(job, o);
    this.gcs.stats.objectsFreed++;
    for (const s of o.locations) {
      s.send({ t: 'free', ids: [o.id] });
      this.copies.delete(s, o);
    }
    o.locations.clear();
    // Someone still waits: tell them it is gone rather than leave them hanging.
    this.subs.notify(o, true);
    for (let i = 0; i < o.contains.length; i++) this.decRef(o.contains[i]);
    this.on.freed(o);
  }

  /**
   * The copies of `o` leave its record without being freed where they are
   * (a guest job taken over, coordinator/mesh: they are announced again under
   * the job's own records). Returns their holders.
   */
  detachCopies(o: ObjectRecord): Session[] {
    const holders = [...o.locations];
    o.locations.clear();
    return holders;
  }

  /** Picks a session holding the bytes of `o`, other than `not`. */
  holder(o: ObjectRecord, not?: Session): Session | undefined {
    let fallback: Session | undefined;
    for (const s of o.locations) {
      if (s.closed) continue;
      if (s !== not) return s;
      fallback = s;
    }
    return fallback;
  }
}
