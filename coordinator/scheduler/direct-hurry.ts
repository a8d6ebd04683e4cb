// A node holds its direct tasks' reports back for a frame to ride on (LATER_MS, shared/protocol/frame.ts,
// issue 14): the task's driver has its value by the result shortcut, and a sequential task's path needs nothing
// else, while each frame is a coordinator wake-up. What does need a report here: a task whose argument is such a
// task's output (it waits in `waiting-args`), or a reader other than that task's driver (another driver's or a
// task's get). The node is asked for them (`hurry`, the tasks' ids, one message per node per turn): it sends its
// held frame at once and those tasks' reports when they end, so such a reader waits a round trip, not the deadline.
import { taskOfObject, type TaskId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import type { ObjectRecord, TaskRecord } from '../gcs/tables.js';
import type { Session } from '../session.js';

export class DirectHurry {
  /** Tasks to ask each node for at the end of this turn. */
  private readonly asks = new Map<Session, Set<TaskId>>();
  /** `hurry` messages sent. */
  sent = 0;

  constructor(
    private readonly gcs: Gcs,
    /** Whether `t` was recorded as sent straight to its node (scheduler/direct-leases.ts). */
    private readonly sentStraight: (t: TaskRecord) => boolean,
  ) {}

  /** A task here (`by` null) or session `by` began to wait on pending object `o`. */
  awaited(o: ObjectRecord, by: Session | null): void {
    // The task's own driver: its value comes by the shortcut (a refused one waits for the node's deadline).
    if (by !== null && by.role === 'driver' && by.jobId === o.job) return;
    const t = this.gcs.tasks.get(taskOfObject(o.id));
    if (!t || t.node === null || (t.state !== 'assigned' && t.state !== 'running') || !this.sentStraight(t)) return;
    const s = t.node.session;
    if (s.closed || !s.hurry) return;
    if (this.asks.size === 0) queueMicrotask(this.send);
    let ids = this.asks.get(s);
    if (!ids) this.asks.set(s, (ids = new Set()));
    ids.add(t.spec.taskId);
  }

  private readonly send = (): void => {
    for (const [s, ids] of this.asks) {
      this.sent++;
      s.send({ t: 'hurry', ids: [...ids] });
    }
    this.asks.clear();
  };
}
