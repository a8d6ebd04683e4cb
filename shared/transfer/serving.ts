// A node's cap on bytes being served at once (issue 17). An object in memory
// counts once however many readers it is being sent to (they share one view
// of its bytes); a spilled object is streamed, and each transfer of it counts
// the windows it reads ahead (source.ts). One holder is always let through,
// so an object larger than the cap is still served, alone.

export class ServingBudget {
  /** Holders (an object's bytes, or one streamed transfer) and how many sends share each. */
  private readonly held = new Map<object, { n: number; bytes: number }>();
  private bytes = 0;
  private readonly waiting: Array<{ key: object; bytes: number; go: () => void }> = [];
  /** Most bytes held at once (tests). */
  peak = 0;

  constructor(readonly cap: number) {}

  /** Resolves once `key` (holding `bytes`) may be served (now, if it already is being served). */
  acquire(key: object, bytes: number): Promise<void> {
    const h = this.held.get(key);
    if (h) {
      h.n++;
      return Promise.resolve();
    }
    if (this.held.size === 0 || this.bytes + bytes <= this.cap) {
      this.take(key, bytes);
      return Promise.resolve();
    }
    return new Promise((go) => this.waiting.push({ key, bytes, go }));
  }

  /** One send of `key` ended (finished, cancelled, or its link closed). */
  release(key: object): void {
    const h = this.held.get(key);
    if (!h) return;
    if (h.n > 1) return void h.n--;
    this.held.delete(key);
    this.bytes -= h.bytes;
    while (this.waiting.length) {
      const w = this.waiting[0];
      const again = this.held.get(w.key);
      if (!again && this.held.size > 0 && this.bytes + w.bytes > this.cap) break;
      this.waiting.shift();
      if (again) again.n++;
      else this.take(w.key, w.bytes);
      w.go();
    }
  }

  get servingBytes(): number {
    return this.bytes;
  }

  private take(key: object, bytes: number): void {
    this.held.set(key, { n: 1, bytes });
    this.bytes += bytes;
    this.peak = Math.max(this.peak, this.bytes);
  }
}
