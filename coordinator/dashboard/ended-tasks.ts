// Tasks that left the GCS a while ago (recent.ts), kept in two orders: when
// they left (the oldest go first, past KEEP_MS or MAX_EACH) and when they were
// submitted (their sequence number in the task table, gcs/task-table.ts). The
// second lets /api/tasks page live and ended tasks as one list by cursor
// (issue 14): a task that ends between two pages keeps its place.
import type { TaskRecord } from '../gcs/tables.js';
import { StageRing } from './stage-ring.js';
import { blankView, fillView, ownView, type TaskView } from './task-history.js';

/** A task that left, staged until a read files it: its view written into `f` from its record. */
interface Staged {
  seq: number;
  at: number;
  f: TaskView;
}

export interface EndedTask {
  id: string;
  /** Submit sequence number (0 when unknown). */
  seq: number;
  at: number;
  v: TaskView;
  /** Gone: too old, one too many, or a newer entry stands for the id. */
  out: boolean;
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

  constructor(
    private readonly keepMs: number,
    private readonly max: number,
  ) {
    this.staged = new StageRing<Staged>(max, () => ({ seq: 0, at: 0, f: blankView() }));
  }

  /** A task that left the GCS, its view taken from its record as it is now (built when a read files it). */
  addTask(t: TaskRecord, seq: number, now = Date.now()): void {
    const s = this.staged.take();
    s.seq = seq;
    s.at = now;
    fillView(s.f, t);
  }

  /**
   * Files the staged tasks: only the newest `max` (the older ones would leave at once; with the same id twice
   * among the newest, fewer than `max` may stay, where filing one by one could have kept an older one).
   */
  private file(): void {
    if (this.staged.length === 0) return;
    this.staged.drain((s) => {
      const v = ownView(s.f); // its strings owned: the entry's id is the view's
      this.fileOne({ id: v.id, seq: s.seq, at: s.at, v, out: false });
    });
  }

  private fileOne(e: EndedTask): void {
    this.filed++;
    const old = this.byId.get(e.id);
    if (old) this.remove(old);
    this.byId.set(e.id, e);
    this.perJob.set(e.v.job, (this.perJob.get(e.v.job) ?? 0) + 1);
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
    const n = (this.perJob.get(e.v.job) ?? 1) - 1;
    if (n > 0) this.perJob.set(e.v.job, n);
    else this.perJob.delete(e.v.job);
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

  /** Whether task `id` is kept here. */
  has(id: string): boolean {
    this.file();
    return this.byId.has(id);
  }

  jobSize(job: string): number {
    this.file();
    return this.perJob.get(job) ?? 0;
  }

  /** As JoinOrder.scan, by submit seq: the ones after `after` that `keep`, looking at no more than `budget`. */
  scan(after: number, limit: number, keep: (v: TaskView) => boolean, budget: number, now = Date.now()): { page: EndedTask[]; through: number | null } {
    this.expire(now);
    const page: EndedTask[] = [];
    for (let i = above(this.bySeq, after), looked = 0; i < this.bySeq.length; i++) {
      if (looked++ >= budget) return { page, through: this.bySeq[i - 1].seq };
      const e = this.bySeq[i];
      if (e.out || !keep(e.v)) continue;
      if (page.length === limit) return { page, through: page[page.length - 1].seq };
      page.push(e);
    }
    return { page, through: null };
  }
}
