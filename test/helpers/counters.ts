// Actor classes the fault tests share: counters that also count how many calls
// their current instance ran (so a test can tell replayed calls from new ones).
// Each is written out whole: classes ship as source, so one cannot extend another.

export class Counter {
  n = 0;
  runs = 0;
  inc(): number {
    this.runs++;
    return ++this.n;
  }
  stats(): { n: number; runs: number } {
    return { n: this.n, runs: this.runs };
  }
}

/** A Counter that checkpoints: a restart restores n, then replays the calls since. */
export class CheckpointedCounter {
  n = 0;
  runs = 0;
  inc(): number {
    this.runs++;
    return ++this.n;
  }
  stats(): { n: number; runs: number } {
    return { n: this.n, runs: this.runs };
  }
  checkpoint(): { n: number } {
    return { n: this.n };
  }
  restore(s: { n: number }): void {
    this.n = s.n;
  }
}
