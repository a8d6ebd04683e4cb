// A job's end reaches its task groups (docs/decisions.md "Task groups", "A job's cancel reaches its groups'
// members"): members not ended count as cancelled, the nodes holding their slices stop them (`cancelGroup`), and
// an owner still connected (a driver's job ended by DELETE /api/jobs/:id goes on) is told each one was cancelled,
// as the classic path's finishFailed tells a plain task's subscribers: its gets raise TaskCancelledError.
import type { Failure } from '../../shared/errors.js';
import type { Gcs } from '../gcs/gcs.js';
import type { JobRecord, NodeRecord } from '../gcs/tables.js';
import { countMembers } from '../jobs/job-tasks.js';
import { chargeMembers } from '../nodes/load.js';
import { ON_SLICE, QUEUED, type GroupRecord } from './group-record.js';
import { sendReady } from './group-ready.js';
import type { GroupTable } from './group-table.js';
import type { Session } from '../session.js';

/** Member `i`'s failure when its job ends before it does (the classic path's cancelledFailure). */
export function memberCancelled(grp: GroupRecord, i: number): Failure {
  const name = grp.spec.name;
  return { code: 'TASK_CANCELLED', name: 'TaskCancelledError', message: `task ${name} was cancelled`, stack: '', functionName: name, taskId: grp.taskId(i) };
}

/** The job ended: its groups go; nodes holding their slices are told (`cancelGroup`) and owners told, unless `quiet` (let go of). */
export function endJobGroups(gcs: Gcs, table: GroupTable, job: JobRecord, quiet: boolean, owner: Session | null): void {
  const groups = [...table.ofJob(job.id)];
  if (groups.length === 0) return;
  for (const grp of groups) {
    const open = grp.queued + grp.running;
    if (open > 0) table.endedCancelled(grp);
    gcs.stats.tasksCancelled += open;
    countMembers(job, 'cancelled', open);
    if (!quiet && owner) tellOwner(grp, owner);
    const told = new Set<NodeRecord>();
    for (const sl of grp.slices.values()) {
      if (!quiet && !told.has(sl.node)) sl.node.session.send({ t: 'cancelGroup', g: grp.g });
      told.add(sl.node);
      chargeMembers(sl.node, grp.spec.resources, sl.open, -1);
      sl.open = 0;
    }
    table.remove(grp);
  }
  table.wake();
}

/** The owner, when connected, hears that its members not ended were cancelled (released ones are not read: not told). */
function tellOwner(grp: GroupRecord, owner: Session): void {
  const idx: number[] = [];
  for (let i = 0; i < grp.n; i++) {
    const st = grp.state[i];
    if ((st !== QUEUED && st !== ON_SLICE) || grp.dropped?.[i]) continue;
    (grp.failures ??= new Map()).set(i, memberCancelled(grp, i));
    idx.push(i);
  }
  if (idx.length > 0) sendReady(grp, [], idx, [], owner);
}
