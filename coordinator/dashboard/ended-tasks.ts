// Tasks that left the GCS a while ago (recent.ts), kept in two orders: when
// they left (the oldest go first, past KEEP_MS or MAX_EACH) and when they were
// submitted (their sequence number in the task table, gcs/task-table.ts). The
// second lets /api/tasks page live and ended tasks as one list by cursor
// (issue 14): a task that ends between two pages keeps its place. Task
// groups' members that ended are kept here too, as the tasks they are
// (issue 14, session 28): staged from their group's record, their view (and
// its id, a hash) made only for the ones a read files.
import type { NodeId } from '../../shared/ids.js';
import type { TaskRecord } from '../gcs/tables.js';
import type { GroupRecord } from '../groups/group-record.js';
import type { MemberEnd } from '../groups/group-table.js';
import { endedView, originOf, startOf, type GroupOrigin } from './member-views.js';
import { StageRing } from './stage-ring.js';
import { blankView, fillView, ownView, withRun, type TaskView } from './task-history.js';

/**
 * A task that left, staged until a read files it: its view written into `f` from its record; or a group's member
 * that ended (`o` its group's origin, `i` its index): `f`'s state, node, executor, attempt and times written.
 */
interface Staged {
  seq: number;
  at: number;
  f: TaskView;
  o: GroupOrigin | null;
  i: number;
}

export interface EndedTask {
  id: string;
  /** Submit sequence number (0 when unknown). */
  seq: number;
  at: number;
  v: TaskView;
  /** Gone: too old, one too many, or a newer entry stands for the id. */
  out: boolean;
  /** A task group's member (its group's record ended it; the task history keeps its job's too). */
  member: boolean;
}

/** Upper bound: the first index whose seq is above `seq`. */
function above(list: EndedTask[], seq: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class EndedTasks {
  private readonly byId = new Map<string, EndedTask>();
  private readonly perJob = new Map<string, number>();
  /** When they left, oldest at `head`. */
  private byTime: (EndedTask | undefined)[] = [];
  private head = 0;
  /**
   * By submit seq; entries that are `out` stay until a quarter are (each holds its view: at a half, 5,000 kept tasks
   * held up to 5,000 more views, ~1.5 MB of a coordinator's heap after 100,000 tasks, session 13). A filter over the
   * list every quarter of its length: four entries looked at per removal.
   */
  private bySeq: EndedTask[] = [];
  private outs = 0;

  /**
   * Tasks that left since the last read, in order, not filed yet (issue 14, session 17): a burst drops 20,000
   * tasks between two reads of the state API, of which `max` are kept; filing each (two maps, two lists, then
   * its removal) cost the coordinator ~3 µs a task. A read files the newest `max` of them; older ones, which
   * filing would have pushed out at once, are never filed. Staged in slots written in place (session 24):
   * a task's view and entry are made only when a read files it.
   */
  private readonly staged: StageRing<Staged>;
  /** Entries filed so far (what the table's upkeep cost: tests). */
  filed = 0;
  /** The origin of the group whose member ended last (members end in runs of a group's report). */
  private lastOrigin: GroupOrigin | null = null;

  constructor(
    private readonly keepMs: number,
    private readonly max: number,
  ) {
    this.staged = new StageRing<Staged>(max, () => ({ seq: 0, at: 0, f: blankView(), o: null, i: 0 }));
  }

  /** A task that left the GCS, its view taken from its record as it is now (built when a read files it). */
  addTask(t: TaskRecord, seq: number, now = Date.now()): void {
    const s = this.staged.take();
    s.seq = seq;
    s.at = now;
    s.o = null;
    fillView(s.f, t);
  }

  /**
   * Member `i` of `grp` ended (GroupTable.ends, at `at`) on `node`'s slot `ex` after `ms` ms (-1: not known): staged
   * as a task that left is, in a slot written in place (no id hashed, no view made: a read files the newest `max`).
   */
  addMember(grp: GroupRecord, i: number, state: MemberEnd, node: NodeId | null, ex: number, ms: number, at: number): void {
    let o = this.lastOrigin;
    // The same group (not only its id: one sent again to a coordinator that had lost it is a new record, numbered anew).
    if (o === null || o.g !== grp.g || o.seq0 !== grp.seq0 || o.submittedAt !== grp.at) this.lastOrigin = o = originOf(grp);
    const s = this.staged.take();
    s.seq = o.seq0 + i;
    s.at = at;
    s.o = o;
    s.i = i;
    const f = s.f;
    f.state = state;
    f.node = node;
    f.executor = ex;
    f.attempt = grp.attempt[i];
    f.startedAt = startOf(ms, at);
    f.endedAt = at;
  }

  /** The view filed from slot `s`: its strings its own. */
  private static viewOf(s: Staged): TaskView {
    const o = s.o;
    if (o === null) return ownView(s.f); // its strings owned: the entry's id is the view's
    const f = s.f;
    s.o = null; // the slot keeps no origin once filed
    return endedView({ o, i: s.i, state: f.state as MemberEnd, node: f.node, ex: f.executor, attempt: f.attempt, start: f.startedAt, end: f.endedAt });
  }

  /**
   * Files the staged tasks: only the newest `max` (the older ones would leave at once; with the same id twice
   * among the newest, fewer than `max` may stay, where filing one by one could have kept an older one).
   */
  private file(): void {
    if (this.staged.length === 0) return;
    this.staged.drain((s) => {
      const member = s.o !== null;
      const v = EndedTasks.viewOf(s);
      this.fileOne({ id: v.id, seq: s.seq, at: s.at, v, out: false, member });
    });
  }

  private fileOne(e: EndedTask): void {
    this.filed++;
    const old = this.byId.get(e.id);
    if (old) {
      // A member made an ordinary task after it ended: its record does not say where it ran; its member entry did.
      if (old.member && !e.member) e.v = withRun(old.v, e.v);
      this.remove(old);
    }
    this.byId.set(e.id, e);
    // Tasks by job only (a job's members are counted by the task history, which lists them for the job).
    if (!e.member) this.perJob.set(e.v.job, (this.perJob.get(e.v.job) ?? 0) + 1);
    this.byTime.push(e);
    // Tasks mostly leave in about the order they came: the place is at or near the end.
    const n = this.bySeq.length;
    if (n === 0 || this.bySeq[n - 1].seq <= e.seq) this.bySeq.push(e);
    else this.bySeq.splice(above(this.bySeq, e.seq), 0, e);
    this.expire(e.at, false);
  }

  private remove(e: EndedTask): void {
    e.out = true;
    this.byId.delete(e.id);
    if (!e.member) {
      const n = (this.perJob.get(e.v.job) ?? 1) - 1;
      if (n > 0) this.perJob.set(e.v.job, n);
      else this.perJob.delete(e.v.job);
    }
    if (++this.outs * 4 > this.bySeq.length && this.bySeq.length > 64) {
      this.bySeq = this.bySeq.filter((x) => !x.out);
      this.outs = 0;
    }
  }

  /** The oldest go: past keepMs, or beyond max (`file`: the staged ones are filed first: a read). */
  private expire(now: number, file = true): void {
    if (file) this.file();
    while (this.head < this.byTime.length) {
      const e = this.byTime[this.head]!;
      if (!e.out && this.byId.size <= this.max && now - e.at <= this.keepMs) break;
      if (!e.out) this.remove(e);
      this.byTime[this.head++] = undefined;
    }
    if (this.head > 1024 && this.head * 2 > this.byTime.length) {
      this.byTime = this.byTime.slice(this.head);
      this.head = 0;
    }
  }

  /** The ones kept, the most recent first. */
  list(now = Date.now()): TaskView[] {
    this.expire(now);
    const out: TaskView[] = [];
    for (let i = this.byTime.length - 1; i >= this.head; i--) {
      const e = this.byTime[i]!;
      if (!e.out) out.push(e.v);
    }
    return out;
  }

  get size(): number {
    this.file();
    return this.byId.size;
  }

  /** Whether task `id` is kept here (`members` false: only as a task that left the GCS, not as a group's member). */
  has(id: string, members = true): boolean {
    this.file();
    const e = this.byId.get(id);
    return e !== undefined && (members || !e.member);
  }

  /** The job's tasks kept here (its group members not counted: the task history counts them). */
  jobSize(job: string): number {
    this.file();
    return this.perJob.get(job) ?? 0;
  }

  /** As JoinOrder.scan, by submit seq: the ones after `after` that `keep` (`member`: a group's), looking at no more than `budget`. */
  scan(
    after: number,
    limit: number,
    keep: (v: TaskView, member: boolean) => boolean,
    budget: number,
    now = Date.now(),
  ): { page: EndedTask[]; through: number | null } {
    this.expire(now);
    const page: EndedTask[] = [];
    for (let i = above(this.bySeq, after), looked = 0; i < this.bySeq.length; i++) {
      if (looked++ >= budget) return { page, through: this.bySeq[i - 1].seq };
      const e = this.bySeq[i];
      if (e.out || !keep(e.v, e.member)) continue;
      if (page.length === limit) return { page, through: page[page.length - 1].seq };
      page.push(e);
    }
    return { page, through: null };
  }
}
