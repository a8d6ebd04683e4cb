// A peer's cap on receive buffers reserved at once (ARCHITECTURE.md "Objects"):
// each fetch reserves its object's size before it asks (a swarm once for all
// its runs), and waits while the cap is taken. One fetch is always let
// through, so an object larger than the cap is still fetched, alone.

export class ReceiveBudget {
  private bytes = 0;
  private readonly waiters: Array<{ n: number; go: () => void }> = [];
  /** Most bytes reserved at once (tests check memory stays bounded; they may reset it). */
  peak = 0;

  constructor(readonly cap: number) {}

  /** Bytes reserved now. */
  get reserved(): number {
    return this.bytes;
  }

  /** Resolves once `n` bytes are reserved. */
  reserve(n: number): Promise<void> {
    if (this.bytes === 0 || this.bytes + n <= this.cap) {
      this.take(n);
      return Promise.resolve();
    }
    return new Promise((go) => this.waiters.push({ n, go }));
  }

  /** Gives `n` reserved bytes back; waiters that now fit go, in order. */
  release(n: number): void {
    this.bytes -= n;
    while (this.waiters.length) {
      const w = this.waiters[0];
      if (this.bytes !== 0 && this.bytes + w.n > this.cap) break;
      this.waiters.shift();
      this.take(w.n);
      w.go();
    }
  }

  private take(n: number): void {
    this.bytes += n;
    this.peak = Math.max(this.peak, this.bytes);
  }
}
