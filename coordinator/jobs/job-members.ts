// A job's tasks and objects (JobRecord.tasks, .objects) as intrusive lists:
// each record carries its own links, so joining and leaving its job hashes
// nothing (issue 14, session 22: a ShardedSet add and delete a task and an
// object, ~3% of the coordinator's CPU on the batch path). Readers see a set:
// size, has, and iteration in join order (a loop that deletes other members
// than the one it is at iterates a copy: values()).

/** The links a record keeps for the one job list it may be in (null or absent: in none). */
export interface JobLinks<T> {
  jobPrev?: T | null;
  jobNext?: T | null;
  jobList?: { delete(x: T): boolean } | null;
}

export class JobMembers<T extends JobLinks<T>> implements Iterable<T> {
  private head: T | null = null;
  private tail: T | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(x: T): boolean {
    return x.jobList === this;
  }

  /** Adds `x` at the end; a member stays where it is. A record is in one list at a time (a task or an object has one job). */
  add(x: T): this {
    if (x.jobList === this) return this;
    x.jobList?.delete(x);
    x.jobList = this;
    x.jobPrev = this.tail;
    x.jobNext = null;
    if (this.tail) this.tail.jobNext = x;
    else this.head = x;
    this.tail = x;
    this.count++;
    return this;
  }

  /** Takes `x` out; false when it was not a member. Its links are cleared: a record gone keeps no other alive. */
  delete(x: T): boolean {
    if (x.jobList !== this) return false;
    const prev = x.jobPrev ?? null;
    const next = x.jobNext ?? null;
    if (prev) prev.jobNext = next;
    else this.head = next;
    if (next) next.jobPrev = prev;
    else this.tail = prev;
    x.jobPrev = null;
    x.jobNext = null;
    x.jobList = null;
    this.count--;
    return true;
  }

  /** Every member in join order, as a copy: for a loop that deletes members other than the one it is at. */
  values(): T[] {
    const out: T[] = [];
    for (let x = this.head; x; x = x.jobNext ?? null) out.push(x);
    return out;
  }

  /**
   * The members in join order, walking the links (no copy: the dashboard counts a job's running tasks this way
   * every sample). The loop may delete the member it is at; to delete others, loop over `values()`.
   */
  *[Symbol.iterator](): Iterator<T> {
    for (let x = this.head; x;) {
      const next: T | null = x.jobNext ?? null;
      yield x;
      x = next;
    }
  }
}
