// The coordinator's own event-loop delay (issue 14): a node that waits for a
// stalled loop misses heartbeats and HTTP waits with it. perf_hooks samples
// the delay; /api/stats shows the worst of the last one to two windows.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const WINDOW_MS = 10_000;

export class LoopWatch {
  private readonly h: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private previousMaxNs = 0;
  private readonly timer: ReturnType<typeof setInterval>;

  constructor() {
    this.h.enable();
    this.timer = setInterval(() => {
      this.previousMaxNs = this.h.max;
      this.h.reset();
    }, WINDOW_MS);
    this.timer.unref();
  }

  /** The worst delay (ms) seen in the current and the previous window. */
  maxMs(): number {
    return Math.round(Math.max(this.previousMaxNs, this.h.max) / 1e4) / 100;
  }

  stop(): void {
    clearInterval(this.timer);
    this.h.disable();
  }
}
