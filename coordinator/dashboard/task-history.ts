// What the timeline and the task graph of a job need after the GCS has let
// go of its tasks (lineage is dropped once a task's outputs are freed, and
// at the latest when its job ends). Bounded: the first MAX_PER_JOB tasks of
// each of the last MAX_JOBS jobs; the rest are only counted.
import { isPutObject, ownId, taskOfObject, type JobId, type NodeId, type TaskId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { GroupRecord } from '../groups/group-record.js';
import type { GroupTable, MemberEnd } from '../groups/group-table.js';
import { commonCopy, type TaskView } from './task-view.js';
import { endedMember, endedView, liveMembers, liveView, memberId, originOf, scanMembers, type EndedMember, type MemberScan } from './member-views.js';

export { commonCopy, type TaskView };

export const MAX_PER_JOB = 2000;
export const MAX_JOBS = 50;

/** The deps and puts of a view that has none (most): one shared empty list, not two new ones a task. */
const NONE = Object.freeze([]) as unknown as never[];

/** A view of `t` of its own (views outlive their tasks in histories: their strings are their own, not slices of a frame). */
export function viewOf(t: TaskRecord): TaskView {
  const f = blankView();
  fillView(f, t);
  return ownView(f);
}

/** A view's lists of the tasks and put objects `t` took as arguments (own copies); the shared empty ones when it took none. */
function argRefs(t: TaskRecord, into: TaskView): void {
  let deps: TaskId[] = NONE;
  let puts: string[] = NONE;
  // By index: most tasks' args are the shared frozen empty list, which `for...of` walks slowly (lineage.ts depsOf).
  const args = t.spec.args;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.r === undefined) continue;
    if (isPutObject(a.r)) {
      if (puts === NONE) puts = [];
      puts.push(ownId(a.r));
    } else {
      if (deps === NONE) deps = [];
      deps.push(ownId(taskOfObject(a.r)));
    }
  }
  into.deps = deps;
  into.puts = puts;
}

/** An empty view to write into (a staged slot of ended-tasks.ts). */
export function blankView(): TaskView {
  return {
    id: '' as TaskId,
    job: '' as JobId,
    parent: '' as TaskId,
    name: '',
    state: 'finished',
    node: null,
    executor: -1,
    attempt: 0,
    submittedAt: 0,
    startedAt: 0,
    endedAt: 0,
    deps: NONE,
    puts: NONE,
  };
}

/**
 * Writes `t`'s view into `into` in place, its strings as the record has them (issue 14, session 24): a task that
 * leaves is staged for the dashboard this way, with nothing allocated for a task without ref arguments; `ownView`
 * makes the view kept from it, for the few a read files.
 */
export function fillView(into: TaskView, t: TaskRecord): void {
  into.id = t.spec.taskId;
  into.job = t.spec.jobId;
  into.parent = t.spec.parentId;
  into.name = t.spec.name;
  into.state = t.state === 'queued' && t.infeasible ? 'infeasible' : t.state;
  into.node = t.ranOn;
  into.executor = t.executor ?? -1;
  into.attempt = t.spec.attempt;
  into.submittedAt = t.submittedAt;
  into.startedAt = t.startedAt;
  into.endedAt = t.endedAt;
  argRefs(t, into);
}

/** A view of its own of what `f` holds (a slot `fillView` wrote): its strings owned, as viewOf's. */
export function ownView(f: TaskView): TaskView {
  return {
    id: ownId(f.id),
    job: commonCopy(f.job),
    parent: commonCopy(f.parent),
    name: commonCopy(f.name),
    state: f.state,
    node: f.node,
    executor: f.executor,
    attempt: f.attempt,
    submittedAt: f.submittedAt,
    startedAt: f.startedAt,
    endedAt: f.endedAt,
    deps: f.deps,
    puts: f.puts,
  };
}

/**
 * The view of a task that was a group member first (`member`, ended as one) and then made an ordinary task
 * (materialized with its value: its record says not where it ran): `v` with the member's node, slot and times.
 */
export function withRun(member: TaskView | undefined, v: TaskView): TaskView {
  if (!member || v.node !== null || v.startedAt > 0 || member.startedAt === 0) return v;
  return { ...v, node: member.node, executor: member.executor, startedAt: member.startedAt, endedAt: v.endedAt || member.endedAt };
}

interface JobHistory {
  tasks: Map<TaskId, TaskView>;
  /** Task groups' members that ended (member-views.ts): kept compactly, within the job's MAX_PER_JOB with `tasks`. */
  members: EndedMember[];
  omitted: number;
}

export class TaskHistory {
  private readonly jobs = new Map<JobId, JobHistory>();
  /** Node names outlive their nodes here, for timelines of finished jobs. */
  readonly nodeNames = new Map<NodeId, string>();

  /** The last job a member's end was recorded for, and its history (a group's members end in runs). */
  private lastJob: JobId | null = null;
  private last: JobHistory | null = null;

  constructor(
    private readonly gcs: Gcs,
    /** The coordinator's task groups (null: off): their members are listed with the job's tasks. */
    private readonly groups: GroupTable | null = null,
  ) {}

  private historyOf(job: JobId): JobHistory {
    let h = this.jobs.get(job);
    if (!h) {
      h = { tasks: new Map(), members: [], omitted: 0 };
      this.jobs.set(job, h);
      if (this.jobs.size > MAX_JOBS) {
        const gone = this.jobs.keys().next().value!;
        this.jobs.delete(gone);
        if (gone === this.lastJob) this.lastJob = this.last = null;
      }
    }
    return h;
  }

  /** A task left the GCS (its lineage dropped; dashboard/recent.ts feeds this from the GCS's drop listener). `v`: its view when the caller built one already. */
  record(t: TaskRecord, v?: TaskView): void {
    const h = this.historyOf(t.spec.jobId);
    if (h.tasks.has(t.spec.taskId) || h.tasks.size + h.members.length < MAX_PER_JOB) h.tasks.set(t.spec.taskId, v ?? viewOf(t));
    else h.omitted++;
  }

  /**
   * A group's member ended (GroupTable.ends): kept while its job has room (a few fields; the view is made when
   * read), else only counted. Each member ends once as a member (one materialized later is a task from then on).
   */
  readonly memberEnded = (grp: GroupRecord, i: number, end: MemberEnd, n: NodeRecord | null, ex: number, ms: number, at: number): void => {
    const job = grp.job.id;
    let h = this.last;
    if (this.lastJob !== job || h === null) {
      h = this.historyOf(job);
      this.lastJob = job;
      this.last = h;
    }
    if (h.tasks.size + h.members.length < MAX_PER_JOB) h.members.push(endedMember(grp, i, end, n?.id ?? null, ex, ms, at || Date.now()));
    else h.omitted++;
  };

  /** A job's tasks: the ones still in the GCS, then the ones recorded when they left; a group's members among them. */
  tasksOf(job: JobId): { tasks: TaskView[]; omitted: number } {
    const h = this.jobs.get(job);
    const out = new Map<TaskId, TaskView>();
    // Ended members first: a member materialized since is listed as the task it became.
    for (const e of h?.members ?? []) {
      const id = memberId(e.o, e.i);
      out.set(id, endedView(e, id));
    }
    for (const [id, v] of h?.tasks ?? []) out.set(id, withRun(out.get(id), v));
    let omitted = h?.omitted ?? 0;
    const live = this.gcs.jobs.get(job)?.tasks;
    if (live) {
      for (const t of live) {
        if (out.size >= MAX_PER_JOB * 2) {
          omitted++;
          continue;
        }
        out.set(t.spec.taskId, withRun(out.get(t.spec.taskId), viewOf(t)));
      }
    }
    if (this.groups) for (const grp of this.groups.ofJob(job)) omitted += liveMembers(grp, out, MAX_PER_JOB * 2);
    const tasks = [...out.values()].sort((a, b) => a.submittedAt - b.submittedAt);
    return { tasks, omitted };
  }

  /**
   * Group members by submit seq, for /api/tasks by cursor (member-views.ts scanMembers): of `job`, the ended ones kept
   * here and the live ones; of every job, the live ones only (ended members are in the ended tasks, as tasks that
   * left are: recent.ts, issue 14 session 28).
   */
  readonly members: MemberScan = (after, limit, keep, budget, job) => {
    const ended = job !== undefined ? (this.jobs.get(job)?.members ?? []) : [];
    const groups = this.groups === null ? [] : job !== undefined ? this.groups.ofJob(job) : this.groups.groups.values();
    return scanMembers(ended, groups, after, limit, keep, budget);
  };

  /**
   * Every job's group members not ended yet (queued, or on a node's slice), as views made one by one while read
   * (lists.ts pages them after the tasks on record; ended ones are in the ended tasks, as tasks that left are).
   */
  *liveMembers(): Generator<TaskView> {
    if (!this.groups) return;
    for (const grp of this.groups.groups.values()) {
      if (grp.queued + grp.running === 0) continue;
      const o = originOf(grp);
      for (let i = 0; i < grp.n; i++) {
        const v = liveView(grp, o, i);
        if (v) yield v;
      }
    }
  }

  /** How many liveMembers() lists. */
  get liveMemberCount(): number {
    let k = 0;
    if (this.groups) for (const grp of this.groups.groups.values()) k += grp.queued + grp.running;
    return k;
  }

  noteNode(id: NodeId, name: string): void {
    if (!this.nodeNames.has(id) && this.nodeNames.size > 10_000) this.nodeNames.clear();
    this.nodeNames.set(id, name);
  }
}
