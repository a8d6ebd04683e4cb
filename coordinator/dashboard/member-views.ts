// A task group's members as the views of a job's tasks show them (issue 14, session 27; docs/decisions.md "Task
// groups in the views"): a member is listed as the task it is, though the coordinator keeps it as a column of its
// group's record (coordinator/groups/group-record.ts). An ended member is kept compactly (its group's origin, its
// index, where and when it ran); its view, whose id is a hash, is made only when a view is read.
import { childTaskId, type JobId, type NodeId, type TaskId } from '../../shared/ids.js';
import type { GroupRecord } from '../groups/group-record.js';
import { ON_SLICE, QUEUED } from '../groups/group-record.js';
import type { MemberEnd } from '../groups/group-table.js';
import { commonCopy, type TaskView } from './task-view.js';

/** What a group's members share, kept past the group's record (which holds their arguments and values). */
export interface GroupOrigin {
  readonly g: TaskId;
  readonly job: JobId;
  readonly parent: TaskId;
  readonly first: number;
  readonly name: string;
  readonly submittedAt: number;
  readonly seq0: number;
}

/** An ended member, as the task history keeps it. */
export interface EndedMember {
  readonly o: GroupOrigin;
  readonly i: number;
  /** Its end; `queued` or `running` for a live member seen as a row (liveRow). */
  readonly state: MemberEnd | 'queued' | 'running';
  readonly node: NodeId | null;
  readonly ex: number;
  readonly attempt: number;
  readonly start: number;
  readonly end: number;
}

const origins = new WeakMap<GroupRecord, GroupOrigin>();

/** The group's origin: one for all its members (made at its first member's end). */
export function originOf(grp: GroupRecord): GroupOrigin {
  let o = origins.get(grp);
  if (!o) {
    const s = grp.spec;
    o = { g: s.taskId, job: s.jobId, parent: commonCopy(s.parentId), first: grp.first, name: commonCopy(s.name), submittedAt: grp.at, seq0: grp.seq0 };
    origins.set(grp, o);
  }
  return o;
}

/** Member `i`'s task id (hashed, as GroupRecord.taskId). */
export function memberId(o: GroupOrigin, i: number): TaskId {
  return i === 0 ? o.g : childTaskId(o.parent, o.first + i);
}

const NONE = Object.freeze([]) as unknown as never[];

function view(o: GroupOrigin, id: TaskId, state: TaskView['state'], node: NodeId | null, ex: number, attempt: number, start: number, end: number): TaskView {
  return {
    id,
    job: o.job,
    parent: o.parent,
    name: o.name,
    state,
    node,
    executor: ex,
    attempt,
    submittedAt: o.submittedAt,
    startedAt: start,
    endedAt: end,
    deps: NONE,
    puts: NONE,
  };
}

/** An ended member's view (`id`: its task id when the caller hashed it already). */
export function endedView(e: EndedMember, id = memberId(e.o, e.i)): TaskView {
  return view(e.o, id, e.state, e.node, e.ex, e.attempt, e.start, e.end);
}

/**
 * The member's end as the history keeps it: `ms` before `at` it started. `ms` -1 (not measured: its executor
 * crashed, its node was lost, it was cancelled) makes no start up: as an ordinary task that never said `started`, it
 * has no bar in the timeline (a start of `at` drew a 1 ms bar, session 27).
 */
export function endedMember(grp: GroupRecord, i: number, state: MemberEnd, node: NodeId | null, ex: number, ms: number, at: number): EndedMember {
  return { o: originOf(grp), i, state, node, ex, attempt: grp.attempt[i], start: startOf(ms, at), end: at };
}

/** A member's start from its run time `ms` and its end `at`; 0 (none) when `ms` is not known (-1). */
export function startOf(ms: number, at: number): number {
  return ms < 0 ? 0 : Math.max(0, at - ms);
}

/**
 * The group's members that have not ended (queued, or on a node's slice: running as far as the views go, since its
 * slice was sent), into `out` by id unless there; past `cap` entries in `out` they are only counted (returned).
 */
export function liveMembers(grp: GroupRecord, out: Map<TaskId, TaskView>, cap: number): number {
  const open = grp.queued + grp.running;
  if (open === 0) return 0;
  if (out.size >= cap) return open;
  const o = originOf(grp);
  let omitted = 0;
  for (let i = 0; i < grp.n; i++) {
    const v = liveView(grp, o, i);
    if (!v) continue;
    if (out.size >= cap) omitted++;
    else if (!out.has(v.id)) out.set(v.id, v);
  }
  return omitted;
}

/** Member `i`'s view while it is queued or on a slice; null otherwise (ended, released, materialized). */
export function liveView(grp: GroupRecord, o: GroupOrigin, i: number): TaskView | null {
  const e = liveRow(grp, o, i);
  return e && endedView(e);
}

/** A member as a cursor page of /api/tasks sees it: its submit sequence number and its state (a live one's too). */
export interface MemberRow {
  seq: number;
  e: EndedMember;
}

export type MemberScan = (
  after: number,
  limit: number,
  keep: (e: EndedMember) => boolean,
  budget: number,
  job?: JobId,
) => { page: MemberRow[]; through: number | null; total: number };

/** A live member as a row (its state as liveView's). */
function liveRow(grp: GroupRecord, o: GroupOrigin, i: number): EndedMember | null {
  const st = grp.state[i];
  if (st === QUEUED) return { o, i, state: 'queued', node: null, ex: -1, attempt: grp.attempt[i], start: 0, end: 0 };
  if (st !== ON_SLICE) return null;
  const sl = grp.slices.get(grp.slice[i]);
  return { o, i, state: 'running', node: sl?.node.id ?? null, ex: -1, attempt: grp.attempt[i], start: sl?.at ?? 0, end: 0 };
}

/**
 * Members numbered after `after` that `keep`, by submit seq (as TaskTable.scan): the ended ones the history keeps
 * (bounded: MAX_PER_JOB a job) and the live ones of the groups on record, in their order (one past a page, to know
 * there are more); live ones looked at no
 * more than `budget` (then `through` says where the walk stopped). `total`: members listed without a filter.
 */
export function scanMembers(
  ended: Iterable<EndedMember>,
  groups: Iterable<GroupRecord>,
  after: number,
  limit: number,
  keep: (e: EndedMember) => boolean,
  budget: number,
): { page: MemberRow[]; through: number | null; total: number } {
  const rows: MemberRow[] = [];
  let total = 0;
  for (const e of ended) {
    total++;
    const seq = e.o.seq0 + e.i;
    if (seq > after && keep(e)) rows.push({ seq, e });
  }
  let through: number | null = null;
  let live = 0;
  let looked = 0;
  for (const grp of groups) {
    total += grp.queued + grp.running;
    if (through !== null || live > limit || grp.queued + grp.running === 0 || grp.seq0 + grp.n - 1 <= after) continue;
    const o = originOf(grp);
    for (let i = Math.max(0, after + 1 - grp.seq0); i < grp.n && live <= limit; i++) {
      if (looked++ >= budget) {
        through = grp.seq0 + i - 1;
        break;
      }
      const e = liveRow(grp, o, i);
      if (e && keep(e)) {
        rows.push({ seq: grp.seq0 + i, e });
        live++;
      }
    }
  }
  rows.sort((a, b) => a.seq - b.seq);
  let page = through === null ? rows : rows.filter((r) => r.seq <= through!);
  // More match than a page: the walk is through the page's last (as JoinOrder.scan), and the next page goes on.
  if (page.length > limit) {
    page = page.slice(0, limit);
    through = page[limit - 1].seq;
  }
  return { page, through, total };
}
