// A task as the views of a job's tasks show it (the task history, the ended-tasks feed, the state API's pages, a
// group's members: member-views.ts), and the shared copies of the strings views repeat.
import { ownId, type JobId, type NodeId, type TaskId } from '../../shared/ids.js';
import type { TaskState } from '../gcs/tables.js';

export interface TaskView {
  id: TaskId;
  job: JobId;
  parent: TaskId;
  name: string;
  /** `infeasible`: queued, and no node in the mesh has what it needs. */
  state: TaskState | 'infeasible';
  node: NodeId | null;
  /** The node's executor slot that ran it; -1 when unknown. */
  executor: number;
  attempt: number;
  submittedAt: number;
  startedAt: number;
  endedAt: number;
  /** Tasks whose outputs it took as arguments (put objects excluded). */
  deps: TaskId[];
  /** Put objects it took as arguments. */
  puts: string[];
}

/** Owned copies of the strings views repeat (job, parent, function name): one copy each, not one per view. */
const common = new Map<string, string>();
export function commonCopy<T extends string>(s: T): T {
  let c = common.get(s);
  if (c === undefined) {
    if (common.size >= 4096) common.clear();
    c = ownId(s);
    common.set(c, c);
  }
  return c as T;
}
