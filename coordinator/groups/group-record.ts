// A task group on record (docs/decisions.md "Task groups", shared/protocol/group.ts): one record for N
// same-function tasks of a driver, with a column per member instead of a task and an object record each.
// Member i is task childTaskId(spec.parentId, first + i); its id is computed only when it leaves the group.
import type { Failure } from '../../shared/errors.js';
import { childTaskId, type TaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import type { JobRecord, NodeRecord } from '../gcs/tables.js';
import type { Holder } from '../objects/directory.js';

/** A member's state (its column `state`). */
export const QUEUED = 0;
/** On a node's slice (assigned or running there). */
export const ON_SLICE = 1;
/** Ended with its value in `values` (kept until its owner releases it). */
export const DONE = 2;
/** Threw or was lost past its retries: its failure in `failures`. */
export const FAILED = 3;
/** Its owner released it: nothing is kept. */
export const RELEASED = 4;
/** An ordinary task and object record now (materialized): the group keeps no more of it. */
export const MATERIALIZED = 5;

/** A slice of a group sent to one node in one `assignGroup`. */
export interface Slice {
  readonly grp: GroupRecord;
  readonly s: number;
  readonly node: NodeRecord;
  /** The members sent in it. */
  readonly idx: readonly number[];
  /** Its members not ended, re-queued or handed back yet. */
  open: number;
  /** When it was sent (ms since the epoch): its members' start as the state API shows them while they run. */
  readonly at: number;
}

export class GroupRecord {
  readonly n: number;
  readonly state: Uint8Array;
  /** The slice a member is (or last was) on; -1 before its first. */
  readonly slice: Int32Array;
  /** Each member's attempt (its generation is the template's plus this). */
  readonly attempt: Int32Array;
  /** Each ended member's value (inline bytes), kept until its owner releases it. */
  readonly values: (Uint8Array | null)[];
  failures: Map<number, Failure> | null = null;
  /** Members released before they ended: released as soon as they end. */
  dropped: Uint8Array | null = null;
  /**
   * The slice each member was reported running on (`groupStarted`; -1: none), and its runs lost before they started
   * (a node lost with the member in its queue: spared, task-failures.ts LOSSES_SPARED). Made at the first report
   * or loss: most groups never lose a node.
   */
  startedOn: Int32Array | null = null;
  spared: Uint8Array | null = null;
  /** Members placed on the coordinator's own (a large result, no node taking groups): their owner reads them as objects. */
  moved: Set<number> | null = null;
  /** Members materialized while on a slice, and that slice's node: they run there on, reported as members. */
  onSlice: Map<number, NodeRecord> | null = null;
  /**
   * Handles on outputs of members made tasks by a call out while the owner was away (group-reports.ts callOut): its
   * own once it is back and sends the group again (ownerBack); the group stays on record until then (settle).
   */
  awayHeld: Holder | null = null;
  /** Queued members, in order (a ring of member indices from `head`). */
  private readonly queue: Int32Array;
  private head = 0;
  private tail = 0;
  queued = 0;
  running = 0;
  done = 0;
  failed = 0;
  /** Members released or materialized: at `n` the group goes. */
  gone = 0;
  /** Members materialized (ordinary tasks now: their records count them). */
  out = 0;
  /** Every member ended or materialized: counted in its job's `gone` (gcs/job-gone.ts). */
  counted = false;
  /** Members materialized whose task records went since (counted in the job's `gone`; its group row names them). */
  goneOut: number[] | undefined = undefined;
  readonly slices = new Map<number, Slice>();
  /** The node each slice ever sent went to (a report on a slice that ended is late, on one never sent a lie). */
  readonly sentTo: NodeRecord['id'][] = [];
  /** In the manager's list of groups with queued members. */
  waiting = false;
  /** Members that ended this turn, told to the owner at its end (one groupReady a group a turn). */
  readyOk: number[] | null = null;
  readyFailed: number[] | null = null;
  readyMoved: number[] | null = null;
  /** In the table's list of groups to tell their owner about at the turn's end. */
  readyDue = false;
  /** When it came (ms since the epoch): its members' submit time. */
  readonly at = Date.now();
  /** Member i's submit sequence number is seq0 + i (the task table's numbers, reserved at add: /api/tasks cursors). */
  seq0 = 0;

  constructor(
    /** Member 0's spec with no arguments: the template of every member (its task id is the group's id). */
    readonly spec: TaskSpec,
    readonly first: number,
    /** Each member's inline argument values. */
    readonly args: Uint8Array[][],
    readonly job: JobRecord,
  ) {
    this.n = args.length;
    this.state = new Uint8Array(this.n);
    this.slice = new Int32Array(this.n).fill(-1);
    this.attempt = new Int32Array(this.n);
    this.values = new Array<Uint8Array | null>(this.n).fill(null);
    this.queue = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) this.queue[i] = i;
    this.tail = this.n;
    this.queued = this.n;
  }

  get g(): TaskId {
    return this.spec.taskId;
  }

  /** Member `i`'s task id (hashed: only for a member that leaves the group or is named in an event). */
  taskId(i: number): TaskId {
    return i === 0 ? this.spec.taskId : childTaskId(this.spec.parentId, this.first + i);
  }

  /**
   * Member `i` waits for a node again: at the back (retried after a throw), or at the front (`front`: handed back
   * unstarted, or lost with its node, as the classic queue takes such tasks back).
   */
  enqueue(i: number, front = false): void {
    this.state[i] = QUEUED;
    if (front) this.queue[((--this.head % this.n) + this.n) % this.n] = i;
    else this.queue[this.tail++ % this.n] = i;
    this.queued++;
  }

  /**
   * Up to `k` queued members, in order (they leave the queue: the caller puts them on a slice). Entries of
   * members that left the queued state meanwhile (materialized) are skipped.
   */
  take(k: number): number[] {
    const out: number[] = [];
    while (out.length < k && this.head < this.tail) {
      const i = this.queue[((this.head % this.n) + this.n) % this.n];
      this.head++;
      if (this.state[i] !== QUEUED) continue;
      this.queued--;
      out.push(i);
    }
    return out;
  }

  /** Member `i` left the queued state outside take() (materialized): its queue entry is skipped later. */
  unqueue(i: number): void {
    if (this.state[i] === QUEUED) this.queued--;
  }

  /** Whether the group is over: every member released or materialized. */
  get over(): boolean {
    return this.gone >= this.n;
  }

  /** Members released by their owner. */
  get released(): number {
    let k = 0;
    for (let i = 0; i < this.n; i++) if (this.state[i] === RELEASED) k++;
    return k;
  }

  /** The member's failure, when it failed. */
  failure(i: number): Failure | undefined {
    return this.failures?.get(i);
  }
}

/** A group as the state API lists it (/api/groups): one row with its members' counts. */
export function groupRow(grp: GroupRecord) {
  const released = grp.released;
  return {
    groupId: grp.g,
    jobId: grp.job.id,
    name: grp.spec.name,
    members: grp.n,
    queued: grp.queued,
    running: grp.running,
    done: grp.done,
    failed: grp.failed,
    released,
    materialized: grp.gone - released,
    slices: grp.slices.size,
  };
}
