// When a node tells the coordinator that a task started (issue 14: the task
// path). Most tasks end within a millisecond or two of being dispatched; a
// `started` frame for each cost a WebSocket hop and a coordinator wake-up that
// the `done` right behind it makes moot. So a dispatched task is reported
// only if it still runs after REPORT_AFTER_MS (one coarse timer over the set of
// unreported tasks, not one per task); a task that ends first says in its
// `done` or `failed` how long it ran and on which executor, and the coordinator
// records it as started then (ARCHITECTURE.md "A task's life": RUNNING implied).
import type { LocalTask } from './local-task.js';

/** A task still running this long after its dispatch is reported `started` (it may wait up to twice this). */
export const REPORT_AFTER_MS = 5;

/** What a task's end says of a run that was never reported `started`. */
export interface QuietRun {
  /** The executor slot it ran on (unknown once its executor was killed). */
  ex: number | undefined;
  /** How long it ran (ms), as the node saw it: from dispatch to its end. */
  ms: number;
}

export class StartReports {
  /** Dispatched tasks not reported yet, with when (performance.now()) they were dispatched. */
  private readonly quiet = new Map<LocalTask, number>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly report: (t: LocalTask) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** `t` went to an executor: it is reported if it still runs at the next check past REPORT_AFTER_MS. */
  dispatched(t: LocalTask): void {
    this.quiet.set(t, this.now());
    this.timer ??= setTimeout(() => this.check(), REPORT_AFTER_MS);
  }

  /** Reports `t` now if it was not (it blocks in get/wait: the coordinator hears `started` before `blocked`). */
  reportNow(t: LocalTask): void {
    if (this.quiet.delete(t)) this.report(t);
  }

  /** `t` runs on under a new attempt: `started` again, unless its first report (which reads the spec then) is still due. */
  reassigned(t: LocalTask): void {
    if (!this.quiet.has(t)) this.report(t);
  }

  /**
   * `t` ends (or leaves its executor): the run it had not reported, if any,
   * for its `done` or `failed` to carry. Undefined when `started` went out
   * or it never ran.
   */
  settle(t: LocalTask): QuietRun | undefined {
    const at = this.quiet.get(t);
    if (at === undefined) return undefined;
    this.quiet.delete(t);
    return { ex: t.executor?.index, ms: Math.max(0, this.now() - at) };
  }

  /** Reports what ran long enough; forgets what no longer runs (ended, or back in the node's queue). */
  check(): void {
    this.timer = null;
    const due = this.now() - REPORT_AFTER_MS;
    for (const [t, at] of this.quiet) {
      if (t.state !== 'running') this.quiet.delete(t);
      else if (at <= due) {
        this.quiet.delete(t);
        this.report(t);
      }
    }
    if (this.quiet.size > 0) this.timer = setTimeout(() => this.check(), REPORT_AFTER_MS);
  }

  /** The session ended: nothing more is reported. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.quiet.clear();
  }
}
