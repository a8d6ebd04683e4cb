// A job's tasks and objects, and its counters, as they change: the task
// manager, the directory, lineage and recovery report changes here, and only
// this module and job-manager.ts write job records (issue 12, Ray's
// GcsJobManager). Like nodes/load.ts, plain functions on the record: the job
// manager depends on the task and object managers, so they cannot call it back
// without an import circle.
import type { Failure } from '../../shared/errors.js';
import type { FunctionId } from '../../shared/ids.js';
import type { JobRecord, ObjectRecord, TaskRecord } from '../gcs/tables.js';

/** A task joins its job: newly submitted (counted), or read back after a restart (`counted`: it was before). */
export function addTask(job: JobRecord, t: TaskRecord, counted = false): void {
  job.tasks.add(t);
  if (!counted) job.counts.submitted++;
}

/** A task's lineage is dropped: the job forgets it. */
export function forgetTask(job: JobRecord, t: TaskRecord): void {
  job.tasks.delete(t);
}

/** A task ended in `state`. */
export function countEnd(job: JobRecord, state: 'finished' | 'failed' | 'cancelled'): void {
  job.counts[state]++;
}

/** `k` members of a task group (coordinator/groups) count in `what` (negative: they leave the group's counts for a record's). */
export function countMembers(job: JobRecord, what: 'submitted' | 'finished' | 'failed' | 'cancelled', k: number): void {
  job.counts[what] += k;
}

/** Counts as the durable GCS keeps a running job's `gone` (gcs/job-gone.ts). */
type Gone = NonNullable<JobRecord['gone']>;
type GroupGone = { submitted: number; finished: number; failed: number; out?: readonly number[] };

/** A task of the running job left its records (its row deleted): what it counts stays in the job's `gone`. */
export function countGone(job: JobRecord, state: TaskRecord['state']): void {
  const k = (job.gone ??= { submitted: 0, finished: 0, failed: 0, cancelled: 0 });
  k.submitted++;
  if (state === 'finished' || state === 'failed' || state === 'cancelled') k[state]++;
}

/** Group `g` of the job counts `k` in its `gone` (replacing what it counted there before, if it did). */
export function countGroupGone(job: JobRecord, g: string, k: GroupGone): void {
  const was = job.goneGroups?.get(g);
  const gone: Gone = (job.gone ??= { submitted: 0, finished: 0, failed: 0, cancelled: 0 });
  gone.submitted += k.submitted - (was?.submitted ?? 0);
  gone.finished += k.finished - (was?.finished ?? 0);
  gone.failed += k.failed - (was?.failed ?? 0);
  (job.goneGroups ??= new Map()).set(g, k);
}

/** Group `g`, counted in `gone`, was read back at a restart (its row): `gone` holds it already. */
export function goneGroupRead(job: JobRecord, g: string, k: GroupGone): void {
  (job.goneGroups ??= new Map()).set(g, k);
}

/** Group `g` counts afresh (its owner sent it again): it leaves `gone` and the job's counts; false if it was not there. */
export function uncountGroupGone(job: JobRecord, g: string): boolean {
  const was = job.goneGroups?.get(g);
  if (!was || !job.gone) return false;
  job.goneGroups!.delete(g);
  for (const c of [job.gone, job.counts]) {
    c.submitted -= was.submitted;
    c.finished -= was.finished;
    c.failed -= was.failed;
  }
  return true;
}

/** The job ended: the groups it counted in `gone` are forgotten (returned: their rows go). */
export function takeGoneGroups(job: JobRecord): Iterable<string> {
  const gs = job.goneGroups?.keys() ?? [];
  job.goneGroups = undefined;
  return gs;
}

/** A finished task runs again to rebuild a lost output (lineage): it is not finished until it ends again. */
export function countRerun(job: JobRecord): void {
  job.counts.finished--;
}

/** A task failed (not a cancel): the first failure is the job's error summary. */
export function noteFailure(job: JobRecord, failure: Failure): void {
  if (!job.firstError) job.firstError = { name: failure.name, message: failure.message.slice(0, 2000), functionName: failure.functionName };
}

/** An object of the job is made (freed with the job). */
export function addObject(job: JobRecord, o: ObjectRecord): void {
  job.objects.add(o);
}

export function forgetObject(job: JobRecord, o: ObjectRecord): void {
  job.objects.delete(o);
}

/** A task of the job names function `fn` (or its row was read back): whether that is new for the job (its row is to write). */
export function usesFunction(job: JobRecord, fn: FunctionId): boolean {
  if (job.fnRows?.has(fn)) return false;
  (job.fnRows ??= new Set()).add(fn);
  return true;
}

/** The functions the job has rows of, forgotten by the job (their rows go with it). */
export function takeFunctions(job: JobRecord): Iterable<FunctionId> {
  const fns = job.fnRows ?? [];
  job.fnRows = undefined;
  return fns;
}
