// What left since the last read, staged for a bounded history (issue 14, session 24): the newest `max`, in
// slots made once and written in place. A burst of 20,000 tasks between two reads of the dashboard built a
// view (and an entry) for each, and held up to 2 x `max` of them, so most outlived a scavenge or two and were
// copied and promoted only to be dropped unread: ~260 B a task of what the coordinator's scavenges kept.
export class StageRing<T> {
  private readonly slots: T[] = [];
  /** The slot the next `take` writes. */
  private at = 0;
  /** Slots staged since the last drain (at most `max`). */
  private staged = 0;

  private readonly max: number;

  /** `max` below 1 stages one (a history that keeps none still sees the newest once, and drops it when it files). */
  constructor(
    max: number,
    private readonly make: () => T,
  ) {
    this.max = Math.max(1, Math.floor(max));
  }

  /** The slot to write the newest entry into: a new one until `max` are made, then the oldest staged one's. */
  take(): T {
    let s = this.slots[this.at];
    if (s === undefined) this.slots.push((s = this.make()));
    this.at = this.at + 1 === this.max ? 0 : this.at + 1;
    if (this.staged < this.max) this.staged++;
    return s;
  }

  /** Each staged slot, oldest first; none is staged after. */
  drain(each: (s: T) => void): void {
    const n = this.staged;
    this.staged = 0;
    for (let k = 0, i = (this.at - n + this.max) % this.max; k < n; k++, i = i + 1 === this.max ? 0 : i + 1) each(this.slots[i]);
  }

  get length(): number {
    return this.staged;
  }
}
