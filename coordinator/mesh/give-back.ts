// Work stealing back from a link (issue 14): the peer placed tasks of its jobs
// on us, its own nodes went idle while ours still hold them, and it asks for
// some back (`giveBack`, as of any node). What has not started goes back
// (`handBack`): tasks not placed here yet (queued, waiting for an argument) at
// once; tasks waiting on one of our nodes through that node, which hands back
// what it has not started; a guest task of the peer's it hands back while the
// peer's ask is open goes on to the peer, not to our queue. A task with a
// dependant here (another guest task waiting for its output) stays, and so does
// one pinned to us (node affinity naming our link: it can run nowhere else, and
// a pin waits for its node, as Ray's does). A node is asked for the peer's tasks
// by id: its newest not started may be another job's (session 21).
import type { Msg } from '../../shared/protocol/messages.js';
import { returnObjectId, type TaskId } from '../../shared/ids.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { Coordinator } from '../coordinator.js';
import { cancelledFailure } from '../scheduler/task-failures.js';

/** How long an ask stays open for tasks our nodes hand back: a node's answer takes a round trip. */
export const GIVE_BACK_OPEN_MS = 2000;

export interface GiveBackStats {
  /** Tasks handed back to the peer. */
  given: number;
  /** Of those, handed back to us first by the node they waited on. */
  fromNodes: number;
}

export class GiveBack {
  /** Tasks our nodes were asked to hand back for the peer, and until when the ask is open. */
  private readonly owed = new Set<TaskId>();
  private owedUntil = 0;
  readonly stats: GiveBackStats = { given: 0, fromNodes: 0 };

  constructor(
    private readonly c: Coordinator,
    /** The peer's tasks placed here and not reported, with their attempt. */
    private readonly placed: () => Iterable<[TaskId, number]>,
    /** A task goes back: its report is never sent, its records go (guest-jobs.ts). */
    private readonly withdrawn: (t: TaskRecord, attempt: number) => void,
    private readonly send: (m: Msg) => void,
    /** Whether the peer pinned `t` to us (node affinity naming our link, not `spill`): it stays (guest-jobs.ts). */
    private readonly pinned: (id: TaskId) => boolean = () => false,
  ) {}

  /** The peer asks for up to `count` tasks that have not started. */
  asked(count: number): void {
    const back: { taskId: TaskId; attempt: number }[] = [];
    const onNodes = new Map<NodeRecord, TaskId[]>();
    let waiting = 0;
    this.owed.clear();
    for (const [id, attempt] of this.placed()) {
      if (back.length + waiting >= count) break;
      const t = this.c.gcs.tasks.get(id);
      if (!t || this.pinned(id) || !this.free(t)) continue;
      if (t.state === 'queued' || t.state === 'waiting-args') {
        this.withdraw(t, attempt);
        back.push({ taskId: id, attempt });
      } else if (t.state === 'assigned' && t.node && t.node.link === undefined) {
        const ids = onNodes.get(t.node);
        if (ids) ids.push(id);
        else onNodes.set(t.node, [id]);
        this.owed.add(id);
        waiting++;
      }
    }
    if (back.length) this.send({ t: 'handBack', tasks: back });
    // The rest from the nodes holding them, by id: those not started come back (shared/node/admission.ts giveBack).
    for (const [n, ids] of onNodes) n.session.send({ t: 'giveBack', n: ids.length, ids });
    this.owedUntil = Date.now() + GIVE_BACK_OPEN_MS;
  }

  /** Our node handed `t` back (not started): the peer's while its ask for it is open, then true: it goes to the peer. */
  handedBack(t: TaskRecord, attempt: number | undefined): boolean {
    if (attempt === undefined || Date.now() > this.owedUntil || !this.owed.delete(t.spec.taskId) || !this.free(t)) return false;
    this.stats.fromNodes++;
    this.withdraw(t, attempt);
    this.send({ t: 'handBack', tasks: [{ taskId: t.spec.taskId, attempt }] });
    return true;
  }

  /** No task here waits for its outputs (a guest task placed here with it as an argument). */
  private free(t: TaskRecord): boolean {
    for (let i = 0; i < t.spec.numReturns; i++) {
      const o = this.c.dir.get(returnObjectId(t.spec.taskId, i));
      if (o?.dependents?.length) return false;
    }
    return true;
  }

  /** `t` leaves this coordinator as never run here: ended as cancelled with no report, its records released. */
  private withdraw(t: TaskRecord, attempt: number): void {
    this.stats.given++;
    this.withdrawn(t, attempt);
    this.c.tasks.finishFailed(t, cancelledFailure(t));
  }
}

/** /api/stats: tasks handed back to the other coordinators, in all and of those through our nodes. */
export function givenBack(agents: Iterable<{ giveBack: GiveBack }>): { meshGivenBack: number; meshGivenBackFromNodes: number } {
  const out = { meshGivenBack: 0, meshGivenBackFromNodes: 0 };
  for (const { giveBack } of agents) {
    out.meshGivenBack += giveBack.stats.given;
    out.meshGivenBackFromNodes += giveBack.stats.fromNodes;
  }
  return out;
}
