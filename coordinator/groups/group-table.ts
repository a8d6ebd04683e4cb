// The coordinator's task groups (docs/decisions.md "Task groups"): the table of group records and the only
// writer of their member columns. Members count as tasks in the job's and the mesh's counters; a node's load is
// charged per member on a slice and credited per member that leaves it. The placement pass, the nodes' reports
// and materialization (group-slices.ts, group-reports.ts, group-materialize.ts) change members through here.
import type { Failure } from '../../shared/errors.js';
import type { JobId, TaskId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import { TERMINAL, type NodeRecord } from '../gcs/tables.js';
import { chargeMembers } from '../nodes/load.js';
import { countMembers, noteFailure } from '../jobs/job-tasks.js';
import { sharedValue } from '../objects/small-values.js';
import { LOSSES_SPARED } from '../scheduler/task-failures.js';
import { ReadyTurn } from './group-ready.js';
import { DONE, FAILED, GroupRecord, MATERIALIZED, ON_SLICE, QUEUED, RELEASED, type Slice } from './group-record.js';

/** Member counts of every group on record (/api/stats, the dashboard). */
export interface GroupCounts {
  groups: number;
  groupMembersQueued: number;
  groupMembersRunning: number;
  groupMembersDone: number;
  groupMembersFailed: number;
}

/** A member's end as the dashboard's views keep it (coordinator/dashboard/member-views.ts). */
export type MemberEnd = 'finished' | 'failed' | 'cancelled';

/**
 * Where members' ends go beside the counters: the task history (its views of a job's tasks). `node`, `ex`, `ms`:
 * where it ran, its executor slot (-1: not known) and for how long (-1: not known: a crash, a lost node, a cancel);
 * `at`: when its end came (ms since the epoch).
 */
export type MemberEnds = (grp: GroupRecord, i: number, end: MemberEnd, node: NodeRecord | null, ex: number, ms: number, at: number) => void;

export class GroupTable {
  readonly groups = new Map<TaskId, GroupRecord>();
  private readonly byJob = new Map<JobId, Set<GroupRecord>>();
  /** Each node's open slices (its loss re-queues their members). */
  readonly slicesOn = new Map<NodeRecord, Set<Slice>>();
  /** Groups with queued members, in the order they came (the placement pass takes them first to last). */
  waiting: GroupRecord[] = [];
  /** Groups with members ended this turn: their owners are told at the turn's end (one groupReady a group). */
  private readonly ready = new ReadyTurn();
  /** A group's queued members wait for a node: a placement pass is due. */
  wake: () => void = () => {};
  /** Members' ends for the task history (null: not kept). */
  ends: MemberEnds | null = null;
  /** Member-slices sent, members placed in them, groups made (for /api/stats). */
  readonly counters = { groupsSubmitted: 0, groupSlices: 0, groupMembersPlaced: 0, groupMembersMaterialized: 0, groupMembersRetried: 0 };

  /** Members made tasks, by task id, while their group is on record (memberGone). */
  private readonly outs = new Map<TaskId, [GroupRecord, number]>();

  constructor(private readonly gcs: Gcs) {
    gcs.gone.memberGone = (job, t) => this.memberGone(job, t);
  }

  add(grp: GroupRecord): void {
    this.groups.set(grp.g, grp);
    let s = this.byJob.get(grp.job.id);
    if (!s) this.byJob.set(grp.job.id, (s = new Set()));
    s.add(grp);
    this.counters.groupsSubmitted++;
    grp.seq0 = this.gcs.reserveTaskSeqs(grp.n);
    this.gcs.stats.tasksSubmitted += grp.n;
    countMembers(grp.job, 'submitted', grp.n);
    this.queuedAgain(grp);
  }

  /**
   * The group goes once it is over (every member released or materialized), unless a member materialized while on
   * a slice still runs there: its node reports it in that slice's groupDone, found through the group (kept till then).
   */
  settle(grp: GroupRecord): void {
    if (!grp.over) return;
    // Its owner, away, has not heard that members moved (it will send the group again): kept for it (ownerBack).
    if (grp.awayHeld) return void this.lingering.add(grp);
    const on = grp.onSlice;
    if (on) {
      for (const [i, n] of on) {
        const t = this.gcs.tasks.get(grp.taskId(i));
        if (!t || TERMINAL.has(t.state) || t.node !== n) on.delete(i);
      }
      if (on.size > 0) return void this.lingering.add(grp);
    }
    this.lingering.delete(grp);
    this.remove(grp);
  }

  /** Groups over but kept for members materialized on a slice that still run there (settle()). */
  private readonly lingering = new Set<GroupRecord>();

  /** Node `n` is gone: members materialized on its slices are its tasks' (the classic node loss): no report comes. */
  nodeGone(n: NodeRecord): void {
    for (const grp of [...this.lingering]) {
      for (const [i, m] of grp.onSlice!) if (m === n) grp.onSlice!.delete(i);
      this.settle(grp);
    }
  }

  ofJob(job: JobId): Iterable<GroupRecord> {
    return this.byJob.get(job) ?? [];
  }

  /** The group leaves the table (every member released or materialized, or its job ended). */
  remove(grp: GroupRecord): void {
    if (this.groups.get(grp.g) !== grp) return;
    this.lingering.delete(grp);
    this.groups.delete(grp.g);
    const s = this.byJob.get(grp.job.id);
    s?.delete(grp);
    if (s?.size === 0) this.byJob.delete(grp.job.id);
    for (const sl of grp.slices.values()) this.closeSlice(grp, sl);
    grp.queued = 0;
    if (grp.out > 0) for (let i = 0; i < grp.n; i++) if (grp.state[i] === MATERIALIZED) this.outs.delete(grp.taskId(i));
  }

  /**
   * A member made a task left the task records (freed: its counts moved to the job's `gone`) while its group is on
   * record: the group's row names it, so that the group sent again after a restart leaves it out (outBefore).
   */
  private memberGone(job: { id: JobId }, t: { spec: { taskId: TaskId } }): void {
    const e = this.outs.get(t.spec.taskId);
    if (!e || e[0].job.id !== job.id) return;
    this.outs.delete(t.spec.taskId);
    (e[0].goneOut ??= []).push(e[1]);
    this.countGone(e[0]);
  }

  /**
   * The group sent again after a restart, its row naming members made tasks whose records went before it: they
   * leave it at once, neither counted again (the job's `gone` has them) nor run again.
   */
  outBefore(grp: GroupRecord, out: readonly number[]): void {
    const idx = out.filter((i) => i < grp.n);
    for (const i of idx) {
      if (grp.state[i] === MATERIALIZED) continue;
      this.leave(grp, i);
      this.outs.delete(grp.taskId(i)); // no record: nothing of it goes later
    }
    grp.goneOut = idx;
    this.countGone(grp);
  }

  /** What the group counts in its job's `gone` (all 0 until every member ended or is a task), and its members out. */
  private countGone(grp: GroupRecord): void {
    const k = grp.counted ? { submitted: grp.n - grp.out, finished: grp.done, failed: grp.failed } : { submitted: 0, finished: 0, failed: 0 };
    this.gcs.gone.group(grp.job, grp.g, { ...k, out: grp.goneOut });
  }

  /** The group has members queued: it is in the waiting list, and a pass is due. */
  queuedAgain(grp: GroupRecord): void {
    if (!grp.waiting && grp.queued > 0) {
      grp.waiting = true;
      this.waiting.push(grp);
    }
    this.wake();
  }

  /** Member `i`, on slice `sl`, is off it (ended, handed back, lost, materialized): its node is credited. */
  offSlice(grp: GroupRecord, sl: Slice, k = 1): void {
    chargeMembers(sl.node, grp.spec.resources, k, -1);
    grp.running -= k;
    sl.open -= k;
    if (sl.open <= 0) this.closeSlice(grp, sl);
    this.wake();
  }

  /** A slice is sent: its node is charged for its members. */
  openSlice(grp: GroupRecord, sl: Slice, idx: readonly number[]): void {
    grp.slices.set(sl.s, sl);
    grp.sentTo[sl.s] = sl.node.id;
    let on = this.slicesOn.get(sl.node);
    if (!on) this.slicesOn.set(sl.node, (on = new Set()));
    on.add(sl);
    for (const i of idx) {
      grp.state[i] = ON_SLICE;
      grp.slice[i] = sl.s;
    }
    grp.running += idx.length;
    chargeMembers(sl.node, grp.spec.resources, idx.length, 1, grp.spec.fnId);
    this.counters.groupSlices++;
    this.counters.groupMembersPlaced += idx.length;
  }

  private closeSlice(grp: GroupRecord, sl: Slice): void {
    if (grp.slices.get(sl.s) !== sl) return;
    grp.slices.delete(sl.s);
    const on = this.slicesOn.get(sl.node);
    on?.delete(sl);
    if (on?.size === 0) this.slicesOn.delete(sl.node);
  }

  /** Member `i` returned `v` (inline bytes), on node `n`'s slot `ex` after `ms` ms (its report came at `at`). */
  ended(grp: GroupRecord, i: number, v: Uint8Array, n: NodeRecord | null = null, ex = -1, ms = 0, at = 0): void {
    this.ends?.(grp, i, 'finished', n, ex, ms, at);
    this.gcs.stats.tasksFinished++;
    countMembers(grp.job, 'finished', 1);
    grp.done++;
    if (grp.dropped?.[i]) {
      grp.state[i] = RELEASED;
      grp.gone++;
    } else {
      grp.state[i] = DONE;
      grp.values[i] = sharedValue(v);
    }
    (grp.readyOk ??= []).push(i);
    this.ready.add(grp);
    this.allEnded(grp);
    this.settle(grp);
  }

  /**
   * Every member ended or is a task now: its owner will not send the group again after a restart, so what it
   * counts in its job stays in the job's durable `gone` (gcs/job-gone.ts); a member made a task later moves out.
   */
  private allEnded(grp: GroupRecord): void {
    if (!grp.counted && grp.done + grp.failed + grp.out < grp.n) return;
    grp.counted = true;
    this.countGone(grp);
  }

  /** Member `i` failed for good (threw without retries left, lost past its retries); where it ran as in ended() (`ms` -1: not known). */
  failed(grp: GroupRecord, i: number, f: Failure, n: NodeRecord | null = null, ex = -1, ms = -1, at = 0): void {
    this.ends?.(grp, i, 'failed', n, ex, ms, at);
    this.gcs.stats.tasksFailed++;
    countMembers(grp.job, 'failed', 1);
    grp.failed++;
    noteFailure(grp.job, f);
    if (grp.dropped?.[i]) {
      // Its owner released it: told only that it ended (no value: it is not read).
      grp.state[i] = RELEASED;
      grp.gone++;
      (grp.readyOk ??= []).push(i);
    } else {
      grp.state[i] = FAILED;
      (grp.failures ??= new Map()).set(i, f);
      (grp.readyFailed ??= []).push(i);
    }
    this.ready.add(grp);
    this.allEnded(grp);
    this.settle(grp);
  }

  /** Member `i` runs again as its next attempt (a retry after a throw or a lost node). */
  retry(grp: GroupRecord, i: number, front = false): void {
    grp.attempt[i]++;
    this.gcs.stats.tasksRetried++;
    this.counters.groupMembersRetried++;
    grp.enqueue(i, front);
    this.queuedAgain(grp);
  }

  /** Whether member `i` may run again: its attempts so far, less its spared losses, are under maxRetries (task-failures.ts retriesLeft). */
  retriesLeft(grp: GroupRecord, i: number): boolean {
    return grp.attempt[i] - Math.min(grp.spared?.[i] ?? 0, LOSSES_SPARED) < grp.spec.maxRetries;
  }

  /** The owner dropped its refs to these members: ended ones' values go now, unended ones' when they end. */
  release(grp: GroupRecord, idx: readonly number[]): void {
    for (const i of idx) {
      const st = grp.state[i];
      if (st === DONE || st === FAILED) {
        grp.state[i] = RELEASED;
        grp.values[i] = null;
        grp.failures?.delete(i);
        grp.gone++;
      } else if (st === QUEUED || st === ON_SLICE) (grp.dropped ??= new Uint8Array(grp.n))[i] = 1;
    }
    this.settle(grp);
  }

  /**
   * Member `i` leaves the group as an ordinary task (group-materialize.ts): it stops counting here (its records
   * count it from now on: the caller's admit counts it submitted again, its end ended).
   */
  leave(grp: GroupRecord, i: number): void {
    const st = grp.state[i];
    const job = grp.job;
    this.gcs.stats.tasksSubmitted--;
    countMembers(job, 'submitted', -1);
    if (st === QUEUED) grp.unqueue(i);
    else if (st === DONE) {
      this.gcs.stats.tasksFinished--;
      countMembers(job, 'finished', -1);
      grp.done--;
      grp.values[i] = null;
    } else if (st === FAILED) {
      this.gcs.stats.tasksFailed--;
      countMembers(job, 'failed', -1);
      grp.failed--;
      grp.failures?.delete(i);
    }
    grp.state[i] = MATERIALIZED;
    this.outs.set(grp.taskId(i), [grp, i]);
    grp.gone++;
    grp.out++;
    this.counters.groupMembersMaterialized++;
    this.allEnded(grp);
  }

  /** The group's unended members end cancelled (its job ended: group-cancel.ts): told to the task history. */
  endedCancelled(grp: GroupRecord): void {
    if (!this.ends) return;
    const at = Date.now();
    for (let i = 0; i < grp.n; i++) {
      const st = grp.state[i];
      if (st === QUEUED) this.ends(grp, i, 'cancelled', null, -1, -1, at);
      else if (st === ON_SLICE) this.ends(grp, i, 'cancelled', grp.slices.get(grp.slice[i])?.node ?? null, -1, -1, at);
    }
  }

  /** Member `i` was materialized by the coordinator (its owner reads it as an object from now on). */
  moved(grp: GroupRecord, i: number): void {
    (grp.moved ??= new Set()).add(i);
    (grp.readyMoved ??= []).push(i);
    this.ready.add(grp);
  }

  counts(): GroupCounts {
    const k: GroupCounts = { groups: this.groups.size, groupMembersQueued: 0, groupMembersRunning: 0, groupMembersDone: 0, groupMembersFailed: 0 };
    for (const grp of this.groups.values()) {
      k.groupMembersQueued += grp.queued;
      k.groupMembersRunning += grp.running;
      k.groupMembersDone += grp.done;
      k.groupMembersFailed += grp.failed;
    }
    return k;
  }
}
