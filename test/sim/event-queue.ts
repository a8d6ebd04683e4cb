// The simulated network's deliveries, in order, behind one timer of the fake clock. Every message in flight had its
// own setTimeout before (session 37): vitest's fake timers (@sinonjs/fake-timers) find the next timer by scanning
// them all, so with thousands in flight the scan was ~60% of the swarm figures' CPU. Here the events wait in a heap
// by (time, order of scheduling), the order the fake clock gave them, and the clock holds one timer for the earliest.
// Times are the fake clock's: a delay is cut to whole ms and one under 1 ms is 1 ms (fake-timers' parseInt(delay) ||
// 1 inside a tick, where the sims schedule). Events due at the same ms run in one timer callback, in order: promise
// jobs one of them starts run after the others of that ms (as Node's ws emits the messages of one read), where
// separate timers let them run between.

interface Ev {
  at: number;
  seq: number;
  f: () => void;
}

const before = (a: Ev, b: Ev): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export class EventQueue {
  private readonly heap: Ev[] = [];
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedAt = Infinity;

  /** Runs `f` `ms` from now (0 or less: as soon as the clock's next turn). */
  after(ms: number, f: () => void): void {
    const ev = { at: Date.now() + (Math.trunc(Math.max(0, ms)) || 1), seq: this.seq++, f };
    this.push(ev);
    if (ev.at < this.armedAt) this.arm();
  }

  get size(): number {
    return this.heap.length;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
    const next = this.heap[0];
    if (!next) return;
    this.armedAt = next.at;
    this.timer = setTimeout(() => this.fire(), Math.max(0, next.at - Date.now()));
  }

  private fire(): void {
    this.timer = null;
    this.armedAt = Infinity;
    const now = Date.now();
    while (this.heap.length > 0 && this.heap[0].at <= now) this.pop()!.f();
    // `f` may have scheduled events (arming for them): arm for whatever is first now.
    if (this.timer === null || (this.heap[0] && this.heap[0].at < this.armedAt)) this.arm();
  }

  private push(ev: Ev): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Ev | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
