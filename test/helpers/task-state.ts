// A task's state as the coordinator knows it, from its task record or, for a member of a task group (issue 14,
// docs/decisions.md "Task groups": members are columns of one group record, not task records), from the group
// table. White-box tests that wait on a task by id use this, so they hold with groups on and off.
import type { Coordinator } from '../../coordinator/coordinator.js';
import { TERMINAL, type TaskRecord, type TaskState } from '../../coordinator/gcs/tables.js';
import { DONE, FAILED, ON_SLICE, QUEUED, RELEASED, type GroupRecord } from '../../coordinator/groups/group-record.js';
import type { TaskId } from '../../shared/ids.js';

/** A member's column state as a task state; RELEASED (ended, value dropped) and MATERIALIZED (a record now) are not states of the group's. */
const MEMBER_STATE: Record<number, TaskState | 'released'> = {
  [QUEUED]: 'queued',
  [ON_SLICE]: 'running',
  [DONE]: 'finished',
  [FAILED]: 'failed',
  [RELEASED]: 'released',
};

/** Where task `id` is on record: its task record, or group `grp`'s member `i`. */
export type TaskWhere = { record: true; state: TaskState } | { record: false; grp: GroupRecord; i: number; state: TaskState | 'released' };

/** Member ids per group, computed once a group (a member's id is a hash of its index: a scan hashes each once). */
const memberIds = new WeakMap<GroupRecord, Map<TaskId, number>>();

function memberIndex(grp: GroupRecord, id: TaskId): number | undefined {
  let ids = memberIds.get(grp);
  if (!ids) {
    ids = new Map();
    for (let i = 0; i < grp.n; i++) ids.set(grp.taskId(i), i);
    memberIds.set(grp, ids);
  }
  return ids.get(id);
}

/** Task `id` on coordinator `co`: its record first (a materialized member has one), else the group it is a member of. */
export function findTask(co: Coordinator, id: TaskId): TaskWhere | undefined {
  const t = co.gcs.tasks.get(id);
  if (t) return { record: true, state: t.state };
  for (const grp of co.groups?.table.groups.values() ?? []) {
    const i = memberIndex(grp, id);
    if (i === undefined) continue;
    const state = MEMBER_STATE[grp.state[i]];
    if (state !== undefined) return { record: false, grp, i, state };
  }
  return undefined;
}

/** Task `id`'s state on `co` (task table or group table); undefined when neither holds it. */
export function taskState(co: Coordinator, id: TaskId): TaskState | 'released' | undefined {
  return findTask(co, id)?.state;
}

/**
 * What is not ended on `co`, one state a task: task records in no terminal state (but those `skip` passes over),
 * and members of task groups still queued or on a slice (a member is no task record until it materializes, and then
 * its record counts). The simulator's "nothing left unended" checks use it, so an unended member is seen too.
 */
export function unendedTasks(co: Coordinator, skip: (t: TaskRecord) => boolean = () => false): string[] {
  const left: string[] = [];
  for (const t of co.gcs.tasks.values()) if (!TERMINAL.has(t.state) && !skip(t)) left.push(t.state);
  for (const grp of co.groups?.table.groups.values() ?? []) {
    for (let i = 0; i < grp.n; i++) {
      const s = grp.state[i];
      if (s === QUEUED || s === ON_SLICE) left.push(`group member ${MEMBER_STATE[s]}`);
    }
  }
  return left;
}
