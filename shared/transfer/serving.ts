// A node's cap on bytes being served at once (issue 17): an object read back
// from disk or IndexedDB to be sent is held in memory until its last chunk
// left, so many readers at once must not pull many such objects in together.
// An object counts once however many readers it is being sent to (they share
// one view of its bytes); one object is always let through, so an object
// larger than the cap is still served, alone.

export class ServingBudget {
  private readonly held = new Map<Uint8Array, number>();
  private bytes = 0;
  private readonly waiting: Array<{ b: Uint8Array; go: () => void }> = [];
  /** Most bytes held at once (tests). */
  peak = 0;

  constructor(readonly cap: number) {}

  /** Resolves once `b` may be served (now, if it already is being served). */
  acquire(b: Uint8Array): Promise<void> {
    const n = this.held.get(b);
    if (n !== undefined) {
      this.held.set(b, n + 1);
      return Promise.resolve();
    }
    if (this.held.size === 0 || this.bytes + b.byteLength <= this.cap) {
      this.take(b);
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ b, go }));
  }

  /** One send of `b` ended (finished, cancelled, or its link closed). */
  release(b: Uint8Array): void {
    const n = this.held.get(b);
    if (n === undefined) return;
    if (n > 1) return void this.held.set(b, n - 1);
    this.held.delete(b);
    this.bytes -= b.byteLength;
    while (this.waiting.length) {
      const w = this.waiting[0];
      if (!this.held.has(w.b) && this.held.size > 0 && this.bytes + w.b.byteLength > this.cap) break;
      this.waiting.shift();
      if (this.held.has(w.b)) this.held.set(w.b, this.held.get(w.b)! + 1);
      else this.take(w.b);
      w.go();
    }
  }

  get servingBytes(): number {
    return this.bytes;
  }

  private take(b: Uint8Array): void {
    this.held.set(b, 1);
    this.bytes += b.byteLength;
    this.peak = Math.max(this.peak, this.bytes);
  }
}
