// Admitting a submitted task (ARCHITECTURE.md "A task's life", step 2): its
// record, its outputs and its references to its arguments, before the task
// manager routes it (tasks.ts: run here, verify, queue, or fail at once).
import type { Failure } from '../../shared/errors.js';
import { ownId, returnObjectId, type JobId, type ObjectId, type TaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { ActorManager } from '../actors/actors.js';
import type { Gcs } from '../gcs/gcs.js';
import type { FunctionRecord, JobRecord, ObjectRecord, TaskRecord } from '../gcs/tables.js';
import { depsOf } from '../lineage/lineage.js';
import type { Holder, ObjectDirectory } from '../objects/directory.js';
import { actorGone, lostFailure } from './task-failures.js';
import { newTask } from './task-states.js';
import { addTask } from '../jobs/job-tasks.js';

/** What the submit handler has looked up already (handlers.ts: its limit check needs both): admit does not look again. */
export interface Looked {
  job: JobRecord | undefined;
  existing: Readonly<TaskRecord> | undefined;
  /** The spec's task id is the coordinator's own string already (not a slice of its frame). */
  owned?: boolean;
}

/** A new task on record, and why it fails at once (a lost or failed argument, a taken actor name), if it does. */
export interface Admitted {
  task: TaskRecord;
  failure: Failure | null;
}

/** What a spec with no arguments or nested refs holds: shared lists (a spec's lists are replaced, never written to). */
const NO_ARGS = Object.freeze([]) as unknown as TaskSpec['args'];
const NO_IDS = Object.freeze([]) as unknown as ObjectId[];
/** Distinct resource requests shared; past this a spec keeps its own (a hostile driver cannot grow the table). */
const MAX_SHARED_RESOURCES = 256;
const sharedResources = new Map<string, Readonly<Record<string, number>>>();
/** The root task id of the job that submitted last: a driver's tasks share one parent id. */
let lastRoot = '' as TaskId;

/**
 * A spec kept on record shares no memory with the frame it came in (issue 14).
 * The decoder hands out ids as slices of one string per run of a frame's
 * strings (~8 KB for ~20 submits): each task on record kept ~350 B of frame
 * alive. The job's, the function's and the parent task's own strings are
 * shared; the task id is copied; empty lists are shared.
 */
function ownStrings(spec: TaskSpec, job: JobId, fn: FunctionRecord | undefined, parent: TaskRecord | undefined, owned: boolean): void {
  spec.jobId = job;
  if (fn && fn.fnId === spec.fnId) {
    spec.fnId = fn.fnId;
    if (fn.name === spec.name) spec.name = fn.name;
  }
  spec.parentId = parent ? parent.spec.taskId : spec.parentId === lastRoot ? lastRoot : (lastRoot = ownId(spec.parentId));
  if (!owned) spec.taskId = ownId(spec.taskId);
  spec.resources = shareResources(spec.resources);
  if (spec.args.length === 0) spec.args = NO_ARGS;
  if (spec.nested.length === 0) spec.nested = NO_IDS;
}

/** One frozen object for each distinct resource request (`{ cpu: 1 }` for most tasks); a spec's resources are never written to. */
export function shareResources(res: Record<string, number>): Record<string, number> {
  // Most tasks ask what the task before them asked: compared without building the key (a string a task).
  if (lastShared !== null && sameResources(res, lastShared)) return lastShared;
  let key = '';
  let n = 0;
  for (const r in res) {
    key += `${r}=${res[r]};`;
    n++;
  }
  const s = sharedResources.get(key);
  if (s) {
    // Names may hold '=' or ';': the key only finds a candidate, the values decide.
    let m = 0;
    for (const r in s) {
      if (s[r] !== res[r]) return res;
      m++;
    }
    return m === n ? (lastShared = s) : res;
  }
  if (sharedResources.size < MAX_SHARED_RESOURCES) sharedResources.set(key, Object.freeze({ ...res }));
  return res;
}

/** The shared request returned last. */
let lastShared: Readonly<Record<string, number>> | null = null;

/** Whether `a` asks exactly what `b` does (the same names and amounts). */
function sameResources(a: Record<string, number>, b: Readonly<Record<string, number>>): boolean {
  let n = 0;
  for (const r in a) {
    if (a[r] !== b[r]) return false;
    n++;
  }
  for (const r in b) if (--n < 0 || !(r in a)) return false;
  return n === 0;
}

/**
 * Records a submitted task and holds its outputs for `from`. Null when the
 * task is on record already (a re-run parent or a resumed driver submits the
 * same ids again); an error text when the submission is refused.
 */
export function admit(gcs: Gcs, dir: ObjectDirectory, actors: ActorManager, spec: TaskSpec, from: Holder, looked?: Looked): Admitted | string | null {
  const existing = looked ? looked.existing : gcs.tasks.get(spec.taskId);
  if (existing) {
    // A re-run parent (or a resumed driver) re-submits the same ids: the task stands; its submitter holds its outputs once.
    for (let i = 0; i < spec.numReturns; i++) {
      const id = returnObjectId(spec.taskId, i);
      if (!from.held.has(id)) dir.hold(from, id);
    }
    return null;
  }
  const job = looked ? looked.job : gcs.jobs.get(spec.jobId);
  if (!job || job.state !== 'running') return `job ${spec.jobId} is not running`;
  // The durable GCS refuses writes and what it keeps grew to its bound: nothing new until it takes them (issue 14).
  const backlog = gcs.storage.backlog?.();
  if (backlog !== undefined) return `task ${spec.taskId} refused: ${backlog}`;
  const isCall = spec.actor?.kind === 'call';
  const fn = gcs.functions.get(spec.fnId);
  if (!isCall && !fn) return `function ${spec.fnId} is not registered (send its source first)`;
  if (spec.actor && spec.actor.id !== (isCall ? spec.actor.id : spec.taskId)) return `an actor's creation task has the actor's id`;
  if (fn) gcs.jobUses(job, fn);
  // A driver's tasks have its job's root id for parent, never a task on record: not looked up (the parent only shares its id string).
  ownStrings(spec, job.id, fn, spec.parentId === lastRoot ? undefined : gcs.tasks.get(spec.parentId), looked?.owned === true);
  const t = newTask(spec, { state: 'waiting-args', liveOutputs: spec.numReturns, holdsArgs: true });

  const place = gcs.taskTable.add(spec.taskId, t); // not on record: looked up above
  addTask(job, t);
  gcs.stats.tasksSubmitted++;
  gcs.persistTask(t);
  for (let i = 0; i < spec.numReturns; i++) {
    const o = dir.create(returnObjectId(spec.taskId, i), spec.jobId, 0, job, place);
    dir.holdRecord(from, o);
    if (i === 0) t.out0 = o;
  }
  let failedArg: ObjectRecord | null = null;
  let lostArg: ObjectId | null = null;
  const nameTaken = spec.actor?.kind === 'create' ? actors.register(t) : null;
  // A detached actor's name holds it (its creation object) until it dies, whoever holds handles.
  if (!nameTaken && spec.actor?.kind === 'create' && spec.actor.detached) dir.addRef(ActorManager.creationObject(spec.taskId));
  // In a mesh its name is claimed in Redis too: it waits for that as for an argument (ActorManager.nameClaimed).
  if (!nameTaken && spec.actor?.kind === 'create' && actors.awaitsName(t)) t.missing++;
  if (isCall) actors.enqueueCall(t);
  // By index: the lists are often the shared frozen empties, which `for...of` walks slowly (lineage.ts depsOf).
  const deps = depsOf(spec);
  for (let i = 0; i < deps.length; i++) {
    const id = deps[i];
    const o = dir.get(id);
    if (!o) {
      lostArg ??= id;
      continue;
    }
    dir.addRef(o.id);
    if (o.state === 'pending') {
      t.missing++;
      dir.awaitedBy(o, t);
    } else if (o.state === 'failed') failedArg ??= o;
  }
  for (let i = 0; i < spec.nested.length; i++) dir.addRef(spec.nested[i]);
  const failure =
    nameTaken ??
    (lostArg
      ? isCall && lostArg === ActorManager.creationObject(spec.actor!.id)
        ? actorGone(spec)
        : lostFailure(lostArg, spec)
      : (failedArg?.failure ?? null));
  return { task: t, failure };
}
