// The failure records the task manager and the task-end paths build (shared/errors.ts has the codes).
import type { Failure } from '../../shared/errors.js';
import type { ObjectId } from '../../shared/ids.js';
import { actorLiveCpu, type TaskSpec } from '../../shared/protocol/messages.js';
import type { TaskRecord } from '../gcs/tables.js';

/** CPUs an actor's creation needs to be placed beyond what the live actor holds. */
export function placeOnlyCpu(s: TaskSpec): number {
  return Math.max(0, (s.resources.cpu ?? 0) - actorLiveCpu(s));
}

/** The spec of a task's next try: a new attempt of a new retry generation (fresh child ids; a rebuild keeps its generation). */
export function retried(s: TaskSpec): TaskSpec {
  return { ...s, attempt: s.attempt + 1, gen: (s.gen ?? 0) + 1 };
}

/**
 * Runs lost that are not counted against maxRetries. With a link (issue 14): a coordinator of the mesh taken for gone,
 * or whose agent was replaced, is the control plane's hiccup; a job of tasks with few retries failed on link flaps
 * under load. Before they started (session 31): a node lost while the task waited in its queue (assigned, never
 * reported `started`) ran nothing of it; as Ray, whose owner asks another lease for a task no worker was pushed, a
 * starved crowd taken for lost must not spend a task's retries on runs that never began. Bounded: a node or link
 * that keeps dying under a task (a task that kills its node within ms, before its `started` goes out) does not keep
 * it forever.
 */
export const LOSSES_SPARED = 8;

/** Whether `t` may run again: its attempts so far, less the runs lost that are spared, are under maxRetries. */
export function retriesLeft(t: TaskRecord): boolean {
  return t.spec.attempt - Math.min(t.sparedLosses ?? 0, LOSSES_SPARED) < t.spec.maxRetries;
}

function failure(spec: TaskSpec, code: Failure['code'], name: string, message: string): Failure {
  return { code, name, message, stack: '', functionName: spec.name, taskId: spec.taskId };
}

export function cancelledFailure(t: TaskRecord): Failure {
  return failure(t.spec, 'TASK_CANCELLED', 'TaskCancelledError', `task ${t.spec.name} was cancelled`);
}

export function actorGone(spec: TaskSpec): Failure {
  return failure(spec, 'ACTOR_DIED', 'ActorDiedError', `actor ${spec.actor?.id.slice(0, 12)} is gone (killed, or all its handles were released)`);
}

export function lostFailure(id: ObjectId, spec: TaskSpec): Failure {
  return failure(spec, 'OBJECT_LOST', 'ObjectLostError', `argument ${id} of task ${spec.name} is unknown or was freed`);
}

export function nodeLostFailure(spec: TaskSpec, message: string): Failure {
  return failure(spec, 'NODE_LOST', 'NodeLostError', message);
}
