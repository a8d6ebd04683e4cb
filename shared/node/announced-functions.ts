// The functions a node told the coordinator of (`fn`), and for which jobs (issue 11, session 30). A function's source
// is content-addressed: jobs that define the same function share its id. The coordinator keeps a function while a
// running job uses it and drops it at the last such job's end (Gcs.dropJobFunctions), telling the nodes to forget it.
// Announced once per node, a function named by a task of a later job was unknown to the coordinator when that job's
// nested submit came, if the earlier job ended in between: the submit was refused ("not registered") and the task's
// `get` lost the child ("unknown or was freed"; 2-3 of 90 nested jobs under load). Announced once per job, with the
// job named, the function is that job's before any of its submits.

/** Jobs remembered a function: past this the set starts over (one more `fn` message at worst, never a lost one). */
const MAX_JOBS = 64;

export class AnnouncedFunctions {
  private readonly byFn = new Map<string, Set<string>>();

  /** Whether `fn` is to be announced for `job` now; from then on it counts as announced for it. */
  first(fn: string, job: string): boolean {
    let jobs = this.byFn.get(fn);
    if (!jobs) this.byFn.set(fn, (jobs = new Set()));
    else if (jobs.has(job)) return false;
    else if (jobs.size >= MAX_JOBS) jobs.clear();
    jobs.add(job);
    return true;
  }

  /** The coordinator forgot `fn` (`forget`): announced again for any job that names it next. */
  forget(fn: string): void {
    this.byFn.delete(fn);
  }
}

/**
 * The coordinator's `forget` of functions no running job uses: their sources go, but those a task here runs (the
 * `forget` crossed a later job's `fn`: the coordinator has the function again), and all are announced again when named.
 */
export function forgetSources(fns: readonly string[], sources: Map<string, unknown>, announced: AnnouncedFunctions, used: ReadonlySet<string>): void {
  for (const fn of fns) {
    if (!used.has(fn)) sources.delete(fn);
    announced.forget(fn);
  }
}
