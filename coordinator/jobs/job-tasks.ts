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
