// What a node carries, as the coordinator counts it: tasks placed there and
// their resources, CPUs held by live actors, tasks done, functions sent. Node
// membership (membership.ts) and these functions are the only writers of a
// node record's fields; everyone else reads (issue 12). A change re-files the
// node in its scheduler's index, marks it changed (changes.ts) and moves the
// running totals of its coordinator's nodes (totals.ts).
import type { FunctionId } from '../../shared/ids.js';
import { MAX_IDS } from '../../shared/protocol/fields.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { touchNode } from '../scheduler/node-index.js';
import { busied } from './liveness.js';
import { kindMoved } from './silence.js';
import { nodeChanged } from './changes.js';
import { loadMoved } from './totals.js';

/** A node record's `tasks` while it holds none: shared, never written (taskSet makes a node its own at its first task). */
export const NO_TASKS: ReadonlySet<TaskRecord> = new Set();

/** The node's own set of tasks, made at its first: every `tasks` but NO_TASKS is one this file made (or a test's Set). */
function taskSet(n: NodeRecord): Set<TaskRecord> {
  if (n.tasks === NO_TASKS) n.tasks = new Set();
  return n.tasks as Set<TaskRecord>;
}

/** A task's resources count on its node (+1) or no longer (-1). */
export function charge(n: NodeRecord, t: TaskRecord, sign: 1 | -1): void {
  for (const r in t.spec.resources) n.inflight[r] = (n.inflight[r] ?? 0) + sign * t.spec.resources[r];
  n.inflightTasks += sign;
  loadMoved(n, sign);
  touchNode(n);
  nodeChanged(n);
}

/** Whether the node holds no task and no task group's member (the idle dead window may apply: membership.ts). */
export function holdsNothing(n: NodeRecord): boolean {
  return n.tasks.size === 0 && !n.groupMembers;
}

/** A task is placed on the node. */
export function place(n: NodeRecord, t: TaskRecord): void {
  // It may have been silent for long, holding nothing (membership's idle window): the short window counts from now.
  const quiet = n.saidIdle === true && holdsNothing(n);
  if (quiet) n.busySince = Date.now();
  taskSet(n).add(t);
  charge(n, t, 1);
  if (quiet) {
    busied(n);
    kindMoved(n);
  }
}

/**
 * `k` members of a task group (coordinator/groups) are placed on the node (+1) or leave it (-1): each counts as a
 * task of `resources` would, with no task record in `n.tasks` (the group's slices are the group's to list).
 */
export function chargeMembers(n: NodeRecord, resources: Readonly<Record<string, number>>, k: number, sign: 1 | -1, fn?: FunctionId): void {
  if (k === 0) return;
  if (fn !== undefined) n.groupFn = fn;
  const quiet = sign === 1 && n.saidIdle === true && holdsNothing(n);
  if (quiet) n.busySince = Date.now();
  // A member leaving is progress: only a node that holds members and ends none for long has one running long
  // (rebalance.ts oldestTaskMs). Counted from the first placed, a node refilled before it drained looked a whole
  // job long stuck, and work stealing broke its slices up (issue 14, session 34).
  if (sign === -1 || !n.groupMembers) n.groupSince = Date.now();
  n.groupMembers = (n.groupMembers ?? 0) + sign * k;
  for (const r in resources) n.inflight[r] = (n.inflight[r] ?? 0) + sign * k * resources[r];
  n.inflightTasks += sign * k;
  loadMoved(n, sign * k);
  touchNode(n);
  nodeChanged(n);
  if (quiet) {
    busied(n);
    kindMoved(n);
  }
  // Its last member left one that said it holds nothing: its idle window applies again.
  else if (sign === -1 && n.saidIdle === true && holdsNothing(n)) kindMoved(n);
}

/** A task leaves the node (ended, handed back, moved). */
export function unplace(n: NodeRecord, t: TaskRecord): void {
  if (n.tasks !== NO_TASKS) {
    const tasks = n.tasks as Set<TaskRecord>;
    tasks.delete(t);
    // Given back when empty: an idle node of a crowd holds no Set of its own.
    if (tasks.size === 0) n.tasks = NO_TASKS;
  }
  charge(n, t, -1);
  // Its last task left one that said it holds nothing: its idle window applies again.
  if (n.saidIdle === true && holdsNothing(n)) kindMoved(n);
}

/** A task waiting in get/wait does not use its CPU (no deadlock through nesting); it takes it back when it resumes. */
export function block(n: NodeRecord, cpu: number, blocked: boolean): void {
  n.inflight.cpu = (n.inflight.cpu ?? 0) + (blocked ? -cpu : cpu);
  n.inflightTasks += blocked ? -1 : 1;
  loadMoved(n, blocked ? -1 : 1);
  touchNode(n);
  nodeChanged(n);
}

/**
 * An actor came up (+1) or went (-1) on the node: it holds `liveCpu` while it
 * lives; the CPU only its placement needed (`placeCpu`) is given back at creation.
 */
export function actorHeld(n: NodeRecord, liveCpu: number, placeCpu: number, sign: 1 | -1): void {
  n.actorCpu += sign * liveCpu;
  n.inflight.cpu = (n.inflight.cpu ?? 0) - sign * placeCpu;
  // A live actor waits in no queue: counted there, 18 of them filled a 2-CPU node's places (2 × depth 1 + 16) and the next actors never placed.
  n.inflightTasks -= sign;
  loadMoved(n, -sign);
  touchNode(n);
  nodeChanged(n);
}

export function taskDone(n: NodeRecord, k = 1): void {
  n.tasksDone += k;
  nodeChanged(n);
}

/** The node has been sent a function's source. */
export function sentFunction(n: NodeRecord, fn: FunctionId): void {
  (n.functions ??= new Set()).add(fn);
}

/** The node may not hold a function's source after all (it refused the direct task that carried it): the next assign of it there carries it. */
export function maybeNotSent(n: NodeRecord, fn: FunctionId): void {
  n.functions?.delete(fn);
}

/**
 * Functions that left the GCS (no running job uses them, issue 14): each node
 * that was sent one is told to forget it and counts as not having it, so a
 * later task of it carries it again.
 */
export function forgetFunctions(nodes: Iterable<NodeRecord>, fns: readonly FunctionId[]): void {
  for (const n of nodes) {
    let told: FunctionId[] | undefined;
    for (const fn of fns) if (n.functions?.delete(fn)) (told ??= []).push(fn);
    if (!told) continue;
    for (let i = 0; i < told.length; i += MAX_IDS) n.session.send({ t: 'forget', fns: told.slice(i, i + MAX_IDS) });
  }
}
