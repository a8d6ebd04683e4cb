// A member leaves its group (docs/decisions.md "Task groups", "The owner fast path and materialization"): it
// becomes the ordinary task and object record it would have been if submitted alone (the same ids), in the state
// it is in, through the task manager's admit and done paths. The driver asks (`materialize`: its ref escapes),
// or the coordinator does (a result too large to travel inline; no node takes groups).
import { returnObjectId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import type { ActorManager } from '../actors/actors.js';
import type { Gcs } from '../gcs/gcs.js';
import type { TaskRecord } from '../gcs/tables.js';
import type { Holder, ObjectDirectory } from '../objects/directory.js';
import { admit } from '../scheduler/task-submit.js';
import type { TaskManager } from '../scheduler/tasks.js';
import { Session } from '../session.js';
import { DONE, FAILED, ON_SLICE, QUEUED, type GroupRecord } from './group-record.js';
import type { GroupTable } from './group-table.js';

/** Member `i`'s spec as if submitted alone: the template with its task id, its inline arguments, its attempt. */
export function memberSpec(grp: GroupRecord, i: number): TaskSpec {
  const a = grp.attempt[i];
  return {
    ...grp.spec,
    taskId: grp.taskId(i),
    args: grp.args[i].map((v) => ({ v })),
    nested: [],
    attempt: a,
    gen: a === 0 ? grp.spec.gen : (grp.spec.gen ?? 0) + a,
  };
}

export class GroupMaterializer {
  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    private readonly tasks: TaskManager,
    private readonly actors: ActorManager,
    private readonly table: GroupTable,
  ) {}

  /**
   * Member `i` as an ordinary task held once by `owner` (its job's driver, or the holder kept for it while it is
   * away: group-reports.ts callOut): queued -> the classic queue; on a slice -> assigned on that node (its report
   * there goes the classic way); ended -> ready with its value, or failed. Null when it cannot (released, or
   * materialized already: then its record, if any).
   */
  member(grp: GroupRecord, i: number, owner: Holder): TaskRecord | null {
    const st = grp.state[i];
    if (st !== QUEUED && st !== ON_SLICE && st !== DONE && st !== FAILED) return null;
    // An ended member's value is read by its owner itself (a holder kept for one away is for members that call out).
    const session = owner instanceof Session ? owner : null;
    if ((st === DONE || st === FAILED) && !session) return null;
    const spec = memberSpec(grp, i);
    const v = grp.values[i];
    const failure = grp.failure(i);
    const sl = st === ON_SLICE ? grp.slices.get(grp.slice[i]) : undefined;
    if (sl) {
      this.table.offSlice(grp, sl, 1);
      // Its node runs it on as a member: its report comes in the slice's groupDone (group-reports.ts classic()).
      (grp.onSlice ??= new Map()).set(i, sl.node);
    }
    this.table.leave(grp, i);
    if (st === QUEUED || st === ON_SLICE) {
      const dropped = grp.dropped?.[i] === 1;
      const err = this.tasks.submit(spec, owner, sl?.node ?? null);
      if (err !== null) this.gcs.event('group-member-refused', `member ${i} of group ${grp.g.slice(0, 12)}: ${err}`, { job: grp.job.id });
      // Released by its owner before it ended (groupRelease): the owner will not release it again, so the hold
      // submit gave it goes now and the output with its task's end (else it stayed until the job's end).
      else if (dropped) {
        const id = returnObjectId(spec.taskId, 0);
        if (owner.held.has(id)) this.dir.unhold(owner, id);
      }
    } else {
      const r = admit(this.gcs, this.dir, this.actors, spec, owner);
      if (r !== null && typeof r !== 'string') {
        if (st === DONE) {
          const done = { t: 'done' as const, taskId: spec.taskId, attempt: spec.attempt, ms: 0, results: [{ v: v!, refs: [] }] };
          if (session) this.tasks.completeDone(r.task, done, session);
        } else this.tasks.finishFailed(r.task, failure!);
      }
    }
    this.table.settle(grp);
    return this.gcs.tasks.get(spec.taskId) ?? null;
  }

  /** The driver's `materialize`: these members' refs escape. */
  asked(grp: GroupRecord, idx: readonly number[], owner: Session): void {
    for (const i of idx) if (i < grp.n) this.member(grp, i, owner);
  }

  /** No node takes groups (but some node lives): the queued members become ordinary tasks, their owner told they moved. */
  queued(grp: GroupRecord): void {
    this.ordinary(grp, grp.queued);
  }

  /**
   * Up to `k` queued members, first queued first, become ordinary tasks in the scheduler's queue (no node takes
   * groups, or a link to another coordinator has room our own nodes lack: group-slices.ts); their owner is told
   * they moved. Their records (none while the owner is away: they wait, it sends the group again when it resumes).
   */
  ordinary(grp: GroupRecord, k: number): TaskRecord[] {
    const owner = grp.job.driver;
    if (!owner || k <= 0) return [];
    // take() leaves them in the queued state (counted out of `queued`): leave() counts them out once more.
    const idx = grp.take(k);
    grp.queued += idx.length;
    const out: TaskRecord[] = [];
    for (const i of idx) {
      const t = this.member(grp, i, owner);
      if (!t) continue;
      this.table.moved(grp, i);
      out.push(t);
    }
    return out;
  }
}
