// The global control store: tables in memory, made durable through a
// GcsStorage (grouped writes). Counters for /api/stats live here too.
import { Packr } from 'msgpackr';
import { isArtifactObject, type FunctionId, type JobId, type NodeId, type ObjectId, type TaskId } from '../../shared/ids.js';
import type { GcsStorage } from './storage.js';
import { TaskTable, type TaskTableView } from './task-table.js';
import type { EventRecord, FunctionRecord, JobRecord, NodeRecord, ObjectRecord, TaskRecord } from './tables.js';
import type { FunctionSource } from '../../shared/protocol/messages.js';
import { idShard, ShardedMap } from '../id-shards.js';
import { takeFunctions, usesFunction } from '../jobs/job-tasks.js';
import { GoneCounts, noCounts } from './job-gone.js';

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });

/** A function row's key: the job that uses it, then the function (unique in a backend without groups too). */
export function functionKey(job: JobId, fn: FunctionId): string {
  return `${job}.${fn}`;
}

export interface Stats {
  tasksSubmitted: number;
  tasksFinished: number;
  tasksFailed: number;
  tasksCancelled: number;
  tasksRetried: number;
  objectsCreated: number;
  objectsFreed: number;
  bytesRelayed: number;
  bytesPeer: number;
  /** Reports about tasks no longer assigned to the sender. */
  staleReports: number;
  /** Finished tasks re-run to rebuild a lost output. */
  tasksRebuilt: number;
  /** Runtime env artifacts put into the mesh (issue 16): once per content while a copy is held. */
  artifactUploads: number;
}

/**
 * Told as a task or an object leaves its table, with its record and its job's
 * (the dashboard keeps the ended ones, dashboard/recent.ts): a listener, not a
 * wrapper that looks the record up again (issue 14).
 */
export interface DropListener {
  /** `seq`: the task's submit sequence number (task-table.ts). */
  task(t: TaskRecord, seq: number, job: JobRecord | undefined): void;
  object(o: ObjectRecord, job: JobRecord | undefined): void;
}

/** A node away (coordinator/mesh/link-pins.ts): another coordinator's link, down while that coordinator lives. */
export interface NodeAway {
  /** Down this long. */
  ms: number;
  /** The job's driver is told past this; a hard pin fails past `boundMs`. */
  warnMs: number;
  boundMs: number;
  /** Why, as far as this coordinator knows. */
  why: string;
}

export class Gcs {
  /**
   * The nodes and tasks tables, for their owners only (nodes/ and the task
   * manager: test/unit/ownership.test.ts checks who names them); everyone else
   * reads `nodes` and `tasks`, read-only views (issue 12).
   */
  readonly nodeTable = new Map<NodeId, NodeRecord>();
  readonly taskTable = new TaskTable();
  readonly jobs = new Map<JobId, JobRecord>();
  readonly functions = new Map<FunctionId, FunctionRecord>();
  readonly objects: Map<ObjectId, ObjectRecord> = new ShardedMap<ObjectId, ObjectRecord>(idShard);
  readonly events: EventRecord[] = [];
  /** Who is told of each drop (one listener: the dashboard's, dashboard/index.ts). */
  dropListener: DropListener | null = null;
  private eventSeq = 0;
  /**
   * What starts the key of each event row this GCS writes: a coordinator of a
   * mesh sets its id (issue 15), so that coordinators sharing one Redis never
   * overwrite each other's rows. The stored key of each event, for its delete.
   */
  eventOrigin = '';
  private readonly eventKeys = new WeakMap<EventRecord, string>();
  readonly stats: Stats = {
    tasksSubmitted: 0,
    tasksFinished: 0,
    tasksFailed: 0,
    tasksCancelled: 0,
    tasksRetried: 0,
    objectsCreated: 0,
    objectsFreed: 0,
    bytesRelayed: 0,
    bytesPeer: 0,
    staleReports: 0,
    tasksRebuilt: 0,
    artifactUploads: 0,
  };

  /**
   * Whether node `id`, not in the table, comes back: another coordinator's link while that coordinator lives (its
   * link's id is its mesh id, nodes/membership.ts; coordinator/mesh sets this) and the link has not been down past the
   * mesh's bound (link-pins.ts). A hard pin to it waits, not fails.
   */
  nodeExpected: (id: string) => boolean = () => false;
  /** Node `id`, not in the table, is another coordinator's link that is down while that coordinator lives: for how long, and why. */
  nodeAway: (id: string) => NodeAway | undefined = () => undefined;
  /** Node `id`, not in the table, stood for another coordinator that left the mesh: a sentence saying so, else undefined. */
  nodeGone: (id: string) => string | undefined = () => undefined;

  get nodes(): ReadonlyMap<NodeId, Readonly<NodeRecord>> {
    return this.nodeTable;
  }

  get tasks(): TaskTableView {
    return this.taskTable;
  }

  /** Submit sequence numbers for `n` tasks kept outside the task table (a task group's members): the first. */
  reserveTaskSeqs(n: number): number {
    return this.taskTable.reserve(n);
  }

  /** Running jobs' counts of what left their records, kept in their rows (job-gone.ts). */
  readonly gone: GoneCounts;

  constructor(
    readonly storage: GcsStorage,
    private readonly maxEvents = 5000,
  ) {
    // A job let go of meanwhile (another coordinator of a mesh owns it now) is not written.
    this.gone = new GoneCounts(storage, (j) => this.jobs.get(j.id) === j && this.persistJob(j));
    // Function rows are read with their jobs (recovery.ts): only those of jobs that still run.
    for (const [key, row] of storage.load('events')) {
      const e = rowPackr.unpack(row) as EventRecord;
      this.events.push(e);
      this.eventKeys.set(e, key);
      this.eventSeq = Math.max(this.eventSeq, e.seq);
    }
    // Rows of several coordinators (a mesh) number their events each: time orders them.
    this.events.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  }

  /** Function rows read from storage (at a restart, or a mesh coordinator's takeover of a job); known functions keep their run times. */
  functionsRead(rows: Iterable<Uint8Array>): void {
    for (const row of rows) {
      const f = rowPackr.unpack(row) as FunctionSource;
      if (!this.functions.has(f.fnId)) this.addFunction(f);
    }
  }

  /** In memory only: a function's row is written for each job that uses it (jobUses). */
  addFunction(src: FunctionSource): FunctionRecord {
    const f: FunctionRecord = { fnId: src.fnId, kind: src.kind, name: src.name, source: src.source, env: src.env, ewmaMs: -1, runs: 0, jobs: 0 };
    this.functions.set(f.fnId, f);
    return f;
  }

  /**
   * A task of `job` names function `f` (issue 15, session 11): the job's own
   * row of it, in the job's group, is written the first time. A job's rows go
   * when it ends (dropJobFunctions), so the table holds the live jobs'
   * functions only; a function shared by jobs has a row in each, and no job's
   * end takes another's.
   */
  jobUses(job: JobRecord, f: FunctionRecord): void {
    if (!usesFunction(job, f.fnId)) return;
    f.jobs++;
    if (!this.storage.durable || job.guest) return;
    this.storage.put(
      'functions',
      functionKey(job.id, f.fnId),
      rowPackr.pack({ fnId: f.fnId, kind: f.kind, name: f.name, source: f.source, env: f.env }),
      job.id,
    );
  }

  /** A function row of `job` was read back (recovery): the job uses it, as if it had named it here. */
  functionRowRead(job: JobRecord, fn: FunctionId): void {
    const f = this.functions.get(fn);
    if (usesFunction(job, fn) && f) f.jobs++;
  }

  /**
   * The job ended: its function rows go (those of other jobs stay, even of the
   * same functions), and a function no running job uses leaves the table
   * (issue 14, session 14: it was kept for the coordinator's life). Those of
   * its tasks still on record stay for good: a detached actor's constructor,
   * run again at a restart. Returns the functions that left the table (nodes
   * forget them too).
   */
  dropJobFunctions(job: JobRecord): FunctionId[] {
    const dropped: FunctionId[] = [];
    const rows = this.storage.durable && !job.guest;
    let kept: Set<FunctionId> | undefined;
    for (const t of job.tasks) (kept ??= new Set()).add(t.spec.fnId);
    for (const fn of takeFunctions(job)) {
      // A detached actor's class stays on record with it: a restart reads it back (recovery-detached.ts).
      if (rows && !kept?.has(fn)) this.storage.delete('functions', functionKey(job.id, fn), job.id);
      const f = this.functions.get(fn);
      if (!f || --f.jobs > 0) continue;
      // A task of the ended job still on record holds it for good, as a job would (no other job's end may take it).
      if (kept?.has(fn)) f.jobs = 1;
      else {
        this.functions.delete(fn);
        dropped.push(fn);
      }
    }
    return dropped;
  }

  /** Lineage: a task's spec is durable before its outputs count as durable. */
  persistTask(t: TaskRecord): void {
    if (!this.storage.durable || this.guest(t.spec.jobId)) return;
    this.storage.put('tasks', t.spec.taskId, rowPackr.pack({ spec: t.spec, state: t.state, submittedAt: t.submittedAt, endedAt: t.endedAt }), t.spec.jobId);
  }

  /** Takes a task out of its table; `job`: its job's record, which the caller has looked up already (undefined: gone). */
  dropTask(id: TaskId, job: JobRecord | undefined): void {
    const e = this.taskTable.take(id);
    if (!e) return;
    if (!job?.guest) {
      this.dropListener?.task(e.t, e.seq, job);
      if (this.storage.durable) {
        // Its count stays in the job's row, written in the batch of this delete: none leaves for its size in between
        // (a kill after a batch with the delete and the job's old row, before the next, lost the count).
        this.storage.holdFlushes?.();
        try {
          this.storage.delete('tasks', id, e.t.spec.jobId);
          this.gone.task(job, e.t);
        } finally {
          this.storage.releaseFlushes?.();
        }
      }
    }
  }

  persistObject(o: ObjectRecord): void {
    // Runtime env artifacts are not rows: after a restart, drivers and nodes offer them again (issue 16).
    if (!this.storage.durable || isArtifactObject(o.id) || this.guest(o.job)) return;
    this.storage.put(
      'objects',
      o.id,
      rowPackr.pack({ id: o.id, job: o.job, state: o.state, size: o.size, hash: o.hash, v: o.v, failure: o.failure, contains: o.contains }),
      o.job,
    );
  }

  /** Takes an object out of its table; false when it was not there. `job`: its job's record, looked up by the caller. */
  dropObject(o: ObjectRecord, job: JobRecord | undefined): boolean {
    if (!this.objects.delete(o.id)) return false;
    if (!job?.guest) {
      this.dropListener?.object(o, job);
      if (this.storage.durable) this.storage.delete('objects', o.id, o.job);
    }
    return true;
  }

  /** A job's row; a running job's `gone` is the part of its counts a restart cannot read from its task rows (job-gone.ts). */
  persistJob(j: JobRecord): void {
    if (j.guest) return;
    if (j.state !== 'running') this.gone.ended(j);
    this.storage.put(
      'jobs',
      j.id,
      rowPackr.pack({
        id: j.id,
        state: j.state,
        startedAt: j.startedAt,
        endedAt: j.endedAt,
        counts: j.counts,
        gone: j.gone ?? noCounts(),
        secret: j.secret,
        submitted: j.submitted ?? false,
        firstError: j.firstError ?? null,
        endReason: j.endReason ?? '',
        namespace: j.namespace ?? '',
      }),
      j.id,
    );
  }

  /**
   * Where a live actor is (issue 15): the hash of its host process's key, so
   * that a coordinator taking the job over attaches it again when that
   * process joins. Hosts without a key (tabs) get no row: their actors die with
   * the coordinator. `placed`: its constructor was sent there and has not
   * returned yet (a takeover asks that host whether it did). Written at once,
   * not in the next grouped write: actor rows are rare, and a row lost in the
   * write window made a live actor dead at the new owner.
   */
  persistActor(id: TaskId, job: JobId, hostKey: string | undefined, restarts: number, placed = false): void {
    if (!this.storage.durable || this.guest(job)) return;
    if (hostKey) this.storage.put('actors', id, rowPackr.pack(placed ? { id, job, hostKey, restarts, placed } : { id, job, hostKey, restarts }), job);
    else this.storage.delete('actors', id, job);
    this.storage.flushSoon?.();
  }

  /** `detached`: a detached actor, whose record of an ended job (persistDetached) goes with it. */
  dropActor(id: TaskId, job: JobId, detached = false): void {
    if (!this.storage.durable || this.guest(job)) return;
    this.storage.delete('actors', id, job);
    if (detached) this.storage.delete('detached', id);
  }

  /**
   * A detached actor outlives its ended job (issue 6, session 29): the actor -> job relation is a row of its own, in
   * no job's group, so that a coordinator on a shared GCS finds it without reading every job's rows, and adopts the
   * ended job (coordinator/mesh/detached-actors.ts) once the job's lease is free. Goes with the actor (dropActor).
   */
  persistDetached(id: TaskId, job: JobId): void {
    if (!this.storage.durable || this.guest(job)) return;
    this.storage.put('detached', id, rowPackr.pack({ id, job }));
    this.storage.flushSoon?.();
  }

  /** A detached actor's record found stale (its actor is on record nowhere: coordinator/mesh/detached-actors.ts). */
  dropDetached(id: TaskId): void {
    if (this.storage.durable) this.storage.delete('detached', id);
  }

  /**
   * Whether a job is another coordinator's (coordinator/mesh): this one runs
   * some of its tasks, and its rows in the shared GCS are the owner's to write.
   */
  private guest(job: JobId | undefined): boolean {
    return job !== undefined && !!this.jobs.get(job)?.guest;
  }

  event(kind: string, message: string, refs: Omit<EventRecord, 'seq' | 'ts' | 'kind' | 'message'> = {}): EventRecord {
    const e: EventRecord = { seq: ++this.eventSeq, ts: Date.now(), kind, message, ...refs };
    this.events.push(e);
    const key = this.eventOrigin + String(e.seq).padStart(12, '0');
    this.eventKeys.set(e, key);
    this.storage.put('events', key, rowPackr.pack(e));
    if (this.events.length > this.maxEvents) {
      const old = this.events.splice(0, this.events.length - this.maxEvents);
      for (const o of old) this.storage.delete('events', this.eventKeys.get(o) ?? String(o.seq).padStart(12, '0'));
    }
    return e;
  }

  close(): void {
    this.storage.close();
  }
}
