// A task's console lines on their way to its driver (issue 3). A node sends a
// task's lines before its end, on one socket, so the coordinator sees them
// while the task is on record as running there. A line can still come after
// the end was taken: a task's timer or unawaited promise that prints after it
// returned, or a node whose report went out before an executor's line reached
// its main thread. Such a line is still the task's, and its driver is still
// the one to read it (Ray's log monitor streams a worker's output whatever the
// task's state): it goes on, up to LATE_LINES a task, so that a task ended
// long ago cannot keep a node talking through it; past that, and for a task
// this node never ran, a line is counted (`/api/stats`), not dropped silently.
import type { TaskId } from '../shared/ids.js';
import type { MsgOf } from '../shared/protocol/messages.js';
import { TERMINAL, type JobRecord, type NodeRecord } from './gcs/tables.js';
import type { Gcs } from './gcs/gcs.js';
import type { GroupManager } from './groups/group-manager.js';
import type { Membership } from './nodes/membership.js';
import type { Verifier } from './verify/verifier.js';
import type { Session } from './session.js';

/** What the lines read of the coordinator: a part of Managers, which names this class (no import circle). */
export interface LogContext {
  readonly gcs: Gcs;
  readonly membership: Pick<Membership, 'nodeOf'>;
  readonly groups: Pick<GroupManager, 'logOf'> | null;
  readonly verifier: Pick<Verifier, 'runsOn'>;
}

/** Lines a task may print after its end took effect here. */
export const LATE_LINES = 64;
/** Ended tasks whose late lines are counted at once (the oldest forgotten first: a bound on this table, not on lines). */
const LATE_TASKS = 4096;

/** Whose line it is: the task, its function's name and its job. */
interface Owner {
  taskId: TaskId;
  fn: string;
  job: JobRecord | undefined;
}

export class TaskLogs {
  /** Lines passed on after their task's end, lines past LATE_LINES, lines for a task their node does not run or ran. */
  readonly counts = { logsLate: 0, logsOverLate: 0, logsRefused: 0 };
  private readonly late = new Map<TaskId, number>();

  /** Node session `s`'s console line `m`: to the driver of its task, when its task runs or ran there. */
  line(c: LogContext, s: Session, m: MsgOf<'log'>): void {
    const n = s.nodeId ? c.membership.nodeOf(s) : undefined;
    const found = n ? this.ownerOf(c, s, n, m) : null;
    if (!n || !found) return void this.counts.logsRefused++;
    const [owner, ended] = found;
    if (ended && !this.lateAllowed(c, owner)) return;
    owner.job?.driver?.send({ t: 'output', taskId: owner.taskId, level: m.level, text: m.text, fn: owner.fn, node: n.name });
  }

  /** Whose line `m` is and whether its task ended, or null when node `n` neither runs nor ran it. */
  private ownerOf(c: LogContext, s: Session, n: NodeRecord, m: MsgOf<'log'>): [Owner, boolean] | null {
    if (m.g !== undefined && m.i !== undefined) {
      // A group's member; one materialized since is an ordinary task on record (below).
      const mem = c.groups?.logOf(n, m.g, m.i);
      if (mem) return [mem, mem.ended];
    }
    const t = c.gcs.tasks.get(m.taskId);
    if (!t) return null;
    const owner = { taskId: t.spec.taskId, fn: t.spec.name, job: c.gcs.jobs.get(t.spec.jobId) };
    if (t.node?.session === s || c.verifier.runsOn(t, s)) return [owner, false];
    // Ended: its node is let go of at the end (tasks.ts unplace), `ranOn` stays.
    if (TERMINAL.has(t.state) && t.ranOn === n.id) return [owner, true];
    return null;
  }

  /** Whether one more line of `owner`, ended, goes on; an event the first time one does not. */
  private lateAllowed(c: LogContext, owner: Owner): boolean {
    const k = (this.late.get(owner.taskId) ?? 0) + 1;
    this.late.delete(owner.taskId); // re-inserted last: the oldest is the one forgotten
    this.late.set(owner.taskId, k);
    if (this.late.size > LATE_TASKS) this.late.delete(this.late.keys().next().value!);
    if (k <= LATE_LINES) {
      this.counts.logsLate++;
      return true;
    }
    this.counts.logsOverLate++;
    if (k === LATE_LINES + 1) {
      const text = `task ${owner.fn} (${owner.taskId.slice(0, 12)}) printed more than ${LATE_LINES} lines after its end: the rest are not passed on`;
      c.gcs.event('task-log-over', text, { job: owner.job?.id });
    }
    return false;
  }
}
