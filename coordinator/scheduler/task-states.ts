// The task manager's transitions for what other boxes do to a task (issue 12:
// one writer per record, Ray's GcsTaskManager). Lineage re-runs a finished
// task, the verifier runs replicas, actors restart, the scheduler queues and
// flags, recovery reads tasks back: each asks for a named transition here.
// Only this module and the task manager's files (tasks.ts, task-submit.ts,
// task-ends.ts) write task records; test/unit/ownership.test.ts checks it.
import type { NodeId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, ObjectRecord, ReplicaSet, TaskRecord } from '../gcs/tables.js';
import { addTask, countEnd } from '../jobs/job-tasks.js';

/**
 * A new record of `spec`: on no node, nothing missing, holding no arguments, not started; `o` sets the rest.
 * Every field is in the literal, in one order, whatever `o` holds (issue 14, session 24): a record that got
 * `out0`, `waiting` or `executor` later changed its hidden class and grew a property array (40-64 B a task),
 * and the code reading records saw several shapes.
 */
export function newTask(spec: TaskSpec, o: Pick<TaskRecord, 'state' | 'liveOutputs'> & Partial<TaskRecord>): TaskRecord {
  return {
    spec,
    state: o.state,
    node: o.node ?? null,
    missing: o.missing ?? 0,
    liveOutputs: o.liveOutputs,
    holdsArgs: o.holdsArgs ?? false,
    blocked: o.blocked ?? false,
    submittedAt: o.submittedAt ?? Date.now(),
    startedAt: o.startedAt ?? 0,
    endedAt: o.endedAt ?? 0,
    ranOn: o.ranOn ?? null,
    executor: o.executor,
    replicas: o.replicas,
    infeasible: o.infeasible,
    out0: o.out0,
    waiting: o.waiting ?? false,
    sparedLosses: o.sparedLosses,
    cancelAsked: o.cancelAsked,
    jobPrev: o.jobPrev ?? null,
    jobNext: o.jobNext ?? null,
    jobList: o.jobList ?? null,
  };
}

/** Waits for placement: in the scheduler's queue, or in its actor's call queue. */
export function queued(t: TaskRecord): void {
  t.state = 'queued';
}

/**
 * The scheduler counts the task among its queued ones (true), or no longer (false: placed, skipped, left);
 * whether that changed the count. One flag on the record, as membership of a set of records was: a second
 * queue entry of a task counts it once, and any of its entries leaving uncounts it.
 */
export function countedWaiting(t: TaskRecord, on: boolean): boolean {
  if ((t.waiting === true) === on) return false;
  t.waiting = on;
  return true;
}

/** The same spec runs again as its next attempt (the same ids: ARCHITECTURE.md "Identities"). */
export function nextAttempt(t: TaskRecord): void {
  t.spec = { ...t.spec, attempt: t.spec.attempt + 1 };
}

// Lineage (coordinator/lineage/).

/** The task holds references to its arguments (and nested refs): its lineage. */
export function argsHeld(t: TaskRecord): void {
  t.holdsArgs = true;
}

/** The task gives up its arguments; false when it held none. */
export function argsReleased(t: TaskRecord): boolean {
  if (!t.holdsArgs) return false;
  t.holdsArgs = false;
  return true;
}

/** A finished task runs again to rebuild a lost output: it waits for its arguments (counted by `awaitsArg`). */
export function rerun(t: TaskRecord): void {
  nextAttempt(t);
  t.state = 'waiting-args';
  t.missing = 0;
}

/** One more argument of a waiting task is not ready. */
export function awaitsArg(t: TaskRecord): void {
  t.missing++;
}

// Actors (coordinator/actors/).

/** A call that was running when its actor was lost goes back to the head of its caller's queue, as its next attempt. */
export function callRetried(t: TaskRecord): void {
  nextAttempt(t);
  t.state = 'queued';
}

/** A lost actor's creation runs again, restoring its last checkpoint when it has one. */
export function actorRecreated(c: TaskRecord, restore: Uint8Array | null): void {
  c.spec = { ...c.spec, attempt: c.spec.attempt + 1, actor: { ...c.spec.actor!, restore: restore ?? undefined } };
}

// Verified execution (coordinator/verify/): the primary record stands for its replicas.

/** The primary's replicas go to the scheduler: it counts as queued until one is placed. */
export function verifying(p: TaskRecord, g: ReplicaSet): void {
  p.replicas = g;
  p.state = 'queued';
}

/** One more replica of the group's primary: the same spec (same ids), queued; it holds no arguments and owns no outputs. */
export function newReplica(g: ReplicaSet): TaskRecord {
  return newTask(g.primary.spec, { state: 'queued', liveOutputs: 0, replicas: g });
}

/** A replica of `p` was placed on node `n`. */
export function replicaPlaced(p: TaskRecord, n: NodeId): void {
  if (p.state === 'queued') p.state = 'assigned';
  p.ranOn = n;
}

/** A replica of `p` started at `at`: the primary runs from the first one. */
export function replicaStarted(p: TaskRecord, at = Date.now()): void {
  if (p.state !== 'assigned' && p.state !== 'queued') return;
  p.state = 'running';
  p.startedAt = at;
}

/** A replica answered (finished or failed) or could not run (failed). */
export function replicaEnded(r: TaskRecord, state: 'finished' | 'failed'): void {
  r.state = state;
  r.endedAt = Date.now();
}

/** A replica still running is not needed: its primary settled. */
export function replicaCancelled(r: TaskRecord): void {
  r.state = 'cancelled';
}

// The scheduler's feasibility checks (scheduler/feasibility.ts).

/** Why no node of the mesh can run the queued task (the state API's `infeasible`), or undefined when one can again. */
export function markInfeasible(t: TaskRecord, why: string | undefined): void {
  if (why === undefined || t.state === 'queued') t.infeasible = why;
}

// Recovery after a coordinator restart (gcs/recovery.ts).

/**
 * A task row read back, with its outputs' rows: ended when none is pending
 * (finished, or failed if one failed), else it runs again. A plain task runs
 * as its next attempt, since whatever ran before the restart is forgotten; an
 * actor's call or constructor keeps its attempt (it is failed, not re-run).
 */
export function restoredTask(spec: TaskSpec, submittedAt: number, outputs: (ObjectRecord | undefined)[]): TaskRecord {
  const ended = outputs.every((o) => o && o.state !== 'pending');
  return newTask(ended || spec.actor ? spec : { ...spec, attempt: spec.attempt + 1 }, {
    state: ended ? (outputs.some((o) => o!.state === 'failed') ? 'failed' : 'finished') : 'waiting-args',
    liveOutputs: ended ? outputs.filter((o) => o).length : spec.numReturns,
    submittedAt,
    endedAt: ended ? Date.now() : 0,
  });
}

/**
 * A restored task is on record again, in its job, and counted there: a running job's stored row holds the counts
 * of its start (gcs.persistJob writes it at the start and the end only), so its counts after a restart are those of
 * the task rows read back (submitted, and finished or failed when ended) plus what happens after.
 */
export function restore(gcs: Gcs, job: JobRecord, t: TaskRecord): void {
  gcs.taskTable.set(t.spec.taskId, t);
  addTask(job, t);
  if (t.state === 'finished' || t.state === 'failed') countEnd(job, t.state);
}
