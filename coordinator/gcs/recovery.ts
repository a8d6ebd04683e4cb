// Coordinator restart (issue 6): the durable GCS is read back and the mesh
// goes on. Jobs wait for their drivers to resume; finished small results stay
// readable; unfinished tasks run again (same ids, next attempt); stored objects
// wait for their nodes to announce them, and are rebuilt from lineage if none does.
import { Packr } from 'msgpackr';
import type { Failure } from '../../shared/errors.js';
import { returnObjectId, type FunctionId, type JobId, type ObjectId, type TaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import type { Managers } from '../managers.js';
import { ActorManager } from '../actors/actors.js';
import { inFlightFailure, type ActorRow } from '../actors/handover.js';
import { outlivingActors } from './recovery-detached.js';
import { restore, restoredTask } from '../scheduler/task-states.js';
import { forgetTask, goneGroupRead } from '../jobs/job-tasks.js';
import { readGone, readGroupRow } from './job-gone.js';
import { MAX_ENDED_JOBS, TERMINAL, type JobRecord, type ObjectRecord, type TaskRecord } from './tables.js';

/** What recovery reads back into: the GCS and the managers of jobs, objects and tasks. */
export type Recovering = Pick<Managers, 'gcs' | 'dir' | 'tasks' | 'jobs' | 'handover'>;

const rowPackr = new Packr({ useRecords: false, mapsAsObjects: true });

interface JobRow {
  id: JobId;
  state: 'running' | 'finished';
  startedAt: number;
  endedAt: number;
  counts: JobRecord['counts'];
  /** Its counts no task row holds (job-gone.ts); absent in a row written before session 28. */
  gone?: unknown;
  secret?: string;
  submitted?: boolean;
  firstError?: JobRecord['firstError'];
  endReason?: string;
  namespace?: string;
}
interface TaskRow {
  spec: TaskSpec;
  state: string;
  submittedAt: number;
}
interface ObjectRow {
  id: ObjectId;
  job: JobId;
  state: 'ready' | 'failed';
  size: number;
  hash: string;
  v: Uint8Array | null;
  failure: Failure | null;
  contains: ObjectId[];
}

export interface RecoveryReport {
  jobs: number;
  tasksRequeued: number;
  tasksFinished: number;
  objects: number;
}

/**
 * Reads the GCS back. Every recovered object gets a temporary hold, released
 * after `graceMs`, so that nothing is freed before drivers had time to resume
 * and say which handles they hold (a job whose driver is not back by then keeps
 * the hold until it is, or the job ends); stored objects no node announced by
 * then are rebuilt (or reported lost) if still needed.
 */
export function recover(c: Recovering, graceMs: number): RecoveryReport {
  const storage = c.gcs.storage;
  if (!storage.durable) return { jobs: 0, tasksRequeued: 0, tasksFinished: 0, objects: 0 };
  const report = recoverRows(
    c,
    {
      jobs: storage.load('jobs'),
      objects: storage.load('objects'),
      tasks: storage.load('tasks'),
      actors: storage.load('actors'),
      functions: storage.load('functions'),
      groups: storage.load('groups'),
    },
    graceMs,
    true,
  );
  // Records of detached actors (gcs.persistDetached) whose creation was not read back: stale, they go.
  for (const [id] of storage.load('detached')) if (!c.gcs.tasks.get(id as TaskId)) c.gcs.dropDetached(id as TaskId);
  return report;
}

/** Stored rows of the three job tables (all of them at a restart; one job's when a coordinator of a mesh takes it over). */
export interface JobRows {
  jobs: Iterable<[string, Uint8Array]>;
  objects: Iterable<[string, Uint8Array]>;
  tasks: Iterable<[string, Uint8Array]>;
  /** Where live actors are (issue 15). */
  actors?: Iterable<[string, Uint8Array]>;
  /** The jobs' functions (issue 15, session 11: keyed job.function, see Gcs.jobUses). */
  functions?: Iterable<[string, Uint8Array]>;
  /** Task groups counted in their running job's `gone` (job-gone.ts), keyed by group id. */
  groups?: Iterable<[string, Uint8Array]>;
}

/** The functions a job's task rows name (a coordinator of a mesh reads those it lacks before it takes the job over). */
export function functionsOf(rows: JobRows): Set<TaskSpec['fnId']> {
  const ids = new Set<TaskSpec['fnId']>();
  for (const [, row] of rows.tasks) ids.add((rowPackr.unpack(row) as TaskRow).spec.fnId);
  return ids;
}

/**
 * Recovers running jobs from their rows (see recover). `endedActors`: detached actors of ended jobs are read back
 * too (a restart reads every row; recovery-detached.ts). Not at a mesh's takeover of one job: an ended job's actor
 * lives on at the coordinator that ran it.
 */
export function recoverRows(c: Recovering, rows: JobRows, graceMs: number, endedActors = false): RecoveryReport {
  const { gcs, dir, tasks } = c;
  const storage = gcs.storage;
  const report: RecoveryReport = { jobs: 0, tasksRequeued: 0, tasksFinished: 0, objects: 0 };

  // A first start (nothing stored) recovers nothing and says nothing.
  let stored = 0;
  const endedRows: JobRow[] = [];
  for (const [, row] of rows.jobs) {
    stored++;
    const j = rowPackr.unpack(row) as JobRow;
    if (j.state !== 'running' || !j.secret) {
      endedRows.push(j); // history: read back once the running jobs' tasks and objects are
      continue;
    }
    // A submitted program's driver does not come back: the job runner runs the
    // program again under the same id, from a clean slate (its old tasks and
    // objects below are dropped as orphans). See coordinator/jobs/runner.ts.
    if (j.submitted) continue;
    // Its counts: what left its records before (its row's `gone`), plus the task rows read back below (restore).
    const gone = readGone(j.gone);
    const counts = gone ? { ...gone } : j.counts;
    c.jobs.recovered({ id: j.id, startedAt: j.startedAt, counts, gone, secret: j.secret, namespace: j.namespace || undefined });
    report.jobs++;
  }
  readGroups(c, rows.groups ?? []);

  // Where live actors are (issue 15); those of ended jobs are detached actors, read back with their ended job.
  const actorList: ActorRow[] = [];
  let taskRows: Iterable<[string, Uint8Array]>; // read twice (the ended jobs' detached actors first)
  for (const [, row] of rows.actors ?? []) actorList.push(rowPackr.unpack(row) as ActorRow);
  const outliving = outlivingActors(
    c.jobs,
    endedActors ? endedRows.filter((j) => j.state === 'finished') : [],
    actorList,
    (taskRows = Array.isArray(rows.tasks) ? rows.tasks : [...rows.tasks]),
  );
  const dropped = (job: JobId, key: string, kept: Set<string>) => !gcs.jobs.has(job) || (outliving.jobs.has(job) && !kept.has(key));

  readFunctions(c, rows.functions ?? [], outliving.jobs);

  const recovered: ObjectRecord[] = [];
  for (const [key, row] of rows.objects) {
    const r = rowPackr.unpack(row) as ObjectRow;
    if (dropped(r.job, r.id, outliving.objects)) {
      storage.delete('objects', key, r.job);
      continue;
    }
    const o = dir.recovered({
      id: r.id,
      job: r.job,
      state: r.state,
      size: r.size,
      hash: r.hash ?? '',
      v: r.v ? new Uint8Array(r.v) : null,
      failure: r.failure ?? null,
      contains: r.contains ?? [],
    }); // held once: the recovery hold
    recovered.push(o);
  }
  for (const o of recovered) for (const id of o.contains) dir.addRef(id);
  report.objects = recovered.length;

  const actorRows = new Map<string, ActorRow>();
  for (const r of actorList) {
    if (dropped(r.job as JobId, r.id, outliving.tasks)) storage.delete('actors', r.id, r.job);
    else actorRows.set(r.id, r);
  }
  const runAgain: TaskRecord[] = [];
  // Outputs of unfinished tasks, made here: each holds one ref for whoever held it before the restart (the
  // driver, a parent task), released with the recovered rows' after the grace. Kept by nothing, that ref outlived
  // every handle: the task and its output stayed after the driver freed them.
  const made: ObjectRecord[] = [];
  for (const [key, row] of taskRows) {
    const r = rowPackr.unpack(row) as TaskRow;
    const spec = r.spec;
    const job = gcs.jobs.get(spec.jobId);
    if (!job || dropped(job.id, key, outliving.tasks)) {
      storage.delete('tasks', key, spec.jobId);
      continue;
    }
    const fn = gcs.functions.get(spec.fnId);
    if (fn) gcs.jobUses(job, fn); // a row written under no job (before session 11) moves to its job
    const outputs = Array.from({ length: spec.numReturns }, (_, i) => dir.get(returnObjectId(spec.taskId, i)));
    // Ended (no output pending), or it runs again as its next attempt (an actor's is failed instead).
    const t = restoredTask(spec, r.submittedAt, outputs);
    if (TERMINAL.has(t.state)) {
      if (t.liveOutputs === 0) {
        // Ended with no output to keep: counted, and gone at once (its row with it).
        restore(gcs, job, t);
        gcs.dropTask(spec.taskId, job);
        forgetTask(job, t);
        continue;
      }
      restore(gcs, job, t);
      report.tasksFinished++;
      if (t.state === 'finished') tasks.holdLineage(t);
      continue;
    }
    if (spec.actor) {
      // A call (or a constructor) in flight: whether it ran is unknown, and an actor's state must not see it twice.
      restore(gcs, job, t);
      for (let i = 0; i < spec.numReturns; i++) if (!outputs[i]) made.push(dir.create(returnObjectId(spec.taskId, i), spec.jobId, 1));
      // A constructor's host is on record (written when it was placed): that host says whether it returned.
      const host = spec.actor.kind === 'create' ? actorRows.get(spec.taskId) : undefined;
      if (host && c.handover.expectConstructor(t, host, graceMs)) pinDetached(c, t);
      else tasks.finishFailed(t, inFlightFailure(spec));
      continue;
    }
    for (let i = 0; i < spec.numReturns; i++) {
      if (!outputs[i]) made.push(dir.create(returnObjectId(spec.taskId, i), spec.jobId, 1)); // held through the grace
    }
    restore(gcs, job, t);
    runAgain.push(t);
  }
  for (const t of runAgain) tasks.resume(t);
  recoverActors(c, actorRows.values(), graceMs);
  report.tasksRequeued = runAgain.length;
  keepEndedJobs(c, endedRows, outliving.jobs);

  if (stored === 0) return report;
  const release = setTimeout(() => {
    for (const o of [...recovered, ...made]) {
      // The record read back, not the id: a job let go of and back here (taken back, or a guest) has new records of
      // the same ids by now, with holds of their own (test/unit/recovery-grace.test.ts).
      if (gcs.objects.get(o.id) !== o) continue;
      // Still nowhere: nobody announced its bytes; rebuild it if it is needed.
      if (o.state === 'ready' && !o.v && o.locations.size === 0) tasks.objectLost(o, 'no node announced it after the coordinator restarted');
      // Its job's driver not back yet: the hold waits for it (job-manager.ts parkRecoveryHold).
      if (!c.jobs.parkRecoveryHold(o.job, o.id)) dir.decRef(o.id);
    }
  }, graceMs);
  release.unref?.();
  gcs.event(
    'coordinator-recovered',
    `recovered ${report.jobs} running job(s), ${report.tasksRequeued} unfinished task(s) to run again, ${report.tasksFinished} finished, ${report.objects} object(s)`,
  );
  return report;
}

/**
 * Function rows of running jobs are read back (those already known keep their
 * run times) and stay the job's; rows of jobs that ended or are gone are
 * deleted. A row of no job (written before session 11) is read and deleted:
 * its running jobs' tasks write it again under them.
 */
function readFunctions(c: Recovering, rows: Iterable<[string, Uint8Array]>, outliving: ReadonlySet<JobId>): void {
  const { gcs } = c;
  for (const [key, row] of rows) {
    const dot = key.indexOf('.');
    if (dot < 0) {
      gcs.functionsRead([row]);
      gcs.storage.delete('functions', key);
      continue;
    }
    const jobId = key.slice(0, dot) as JobId;
    const job = gcs.jobs.get(jobId);
    if (job?.guest) continue; // another coordinator's job: its rows are not ours to delete
    if (!job || (job.state !== 'running' && !outliving.has(jobId))) {
      gcs.storage.delete('functions', key, jobId);
      continue;
    }
    gcs.functionsRead([row]);
    gcs.functionRowRead(job, key.slice(dot + 1) as FunctionId);
  }
}

/** Groups counted in a running job's `gone` (job-gone.ts): kept for the owner's sending them again; others' rows go. */
function readGroups(c: Recovering, rows: Iterable<[string, Uint8Array]>): void {
  for (const [g, row] of rows) {
    const r = readGroupRow(row);
    if (!r) continue; // not a row this coordinator wrote: its group (the job) unknown, it is left as it is
    const job = c.gcs.jobs.get(r.job);
    if (job?.guest) continue; // another coordinator's job
    if (job?.state === 'running' && job.gone) goneGroupRead(job, g, r.k);
    else c.gcs.storage.delete('groups', g, r.job);
  }
}

/** Live actors of recovered jobs wait for their nodes to join again (coordinator/actors/handover.ts). */
function recoverActors(c: Recovering, rows: Iterable<ActorRow>, graceMs: number): void {
  for (const r of rows) {
    const creation = c.gcs.tasks.get(r.id);
    if (creation?.state === 'finished' && creation.spec.actor?.kind === 'create' && c.handover.expect(creation, r, graceMs)) pinDetached(c, creation);
  }
}

/**
 * A detached actor registered again: its name holds its creation object again, as at its submission (task-submit.ts
 * admit), until it dies (the `unpin` hook). Without it the actor outlived nothing once the recovery holds lapsed and
 * its job's handles went: its creation object was freed, and a live actor kept a name no driver could reach.
 */
function pinDetached(c: Recovering, creation: TaskRecord): void {
  if (creation.spec.actor?.detached) c.dir.addRef(ActorManager.creationObject(creation.spec.taskId));
}

/**
 * Driver sessions that ended are history (issue 11): the newest
 * MAX_ENDED_JOBS read back as they ended (progress, duration, first error,
 * how they ended); older rows go. A submitted job's history is the job
 * runner's own record, so its GCS row goes too.
 */
function keepEndedJobs(c: Recovering, rows: JobRow[], outliving: ReadonlySet<JobId>): void {
  const { gcs } = c;
  rows.sort((a, b) => b.endedAt - a.endedAt);
  let kept = 0;
  for (const j of rows) {
    if (outliving.has(j.id)) continue; // read back already: it hosts a detached actor
    if (j.submitted || kept >= MAX_ENDED_JOBS || gcs.jobs.has(j.id)) {
      gcs.storage.delete('jobs', j.id, j.id);
      continue;
    }
    kept++;
    c.jobs.recoveredEnded({
      id: j.id,
      startedAt: j.startedAt,
      endedAt: j.endedAt,
      counts: j.counts,
      firstError: j.firstError ?? null,
      endReason: j.endReason || undefined,
      namespace: j.namespace || undefined,
    });
  }
}
