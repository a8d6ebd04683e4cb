// Cancels that come before their task (issue 14, session 21). A driver's
// direct task comes to its node over the driver's own link, and its cancel
// through the coordinator, which records the task as on this node from the
// driver's submission: the coordinator's `cancelTask` can reach the node
// first. Dropped as naming no task here (as before), the task came a moment
// later and ran (Ray's test_stress: a cancelled task returned its value, and a
// force-cancelled endless one held the node's only CPU for good). Such a
// cancel is kept here for that attempt of the task, bounded in number and
// time, and the task, when it comes, ends cancelled without running. Kept by
// attempt: a cancel that came after a run ended here never stops a later
// attempt of the same task (a lineage re-run).
import { failureOf, type Failure } from '../errors.js';
import type { TaskId } from '../ids.js';

/** Cancels kept for tasks not here yet: the oldest is forgotten first. */
export const CANCELS_AHEAD_MAX = 1_024;
/** A kept cancel whose task did not come in this long is forgotten (its task went elsewhere, or ran and ended here). */
export const CANCELS_AHEAD_MS = 60_000;

/** The failure a task cancelled on this node ends with. */
export function cancelledFailure(taskId: TaskId, name: string): Failure {
  return { ...failureOf('TASK_CANCELLED', taskId, name, new Error(`task ${name} was cancelled`)), name: 'TaskCancelledError' };
}

export class CancelsAhead {
  private readonly byTask = new Map<TaskId, { attempt: number; at: number }>();

  get size(): number {
    return this.byTask.size;
  }

  /** The coordinator cancelled attempt `attempt` of task `taskId`, which is not here (yet). */
  add(taskId: TaskId, attempt: number, now = Date.now()): void {
    this.byTask.delete(taskId);
    this.byTask.set(taskId, { attempt, at: now });
    for (const [id, c] of this.byTask) {
      if (this.byTask.size <= CANCELS_AHEAD_MAX && now - c.at <= CANCELS_AHEAD_MS) break;
      this.byTask.delete(id);
    }
  }

  /** Whether this attempt of task `taskId` was cancelled before it came (true once: the cancel is used). */
  take(taskId: TaskId, attempt: number, now = Date.now()): boolean {
    const c = this.byTask.get(taskId);
    if (!c) return false;
    this.byTask.delete(taskId);
    return c.attempt === attempt && now - c.at <= CANCELS_AHEAD_MS;
  }
}
