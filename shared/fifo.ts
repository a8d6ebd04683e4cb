// Queues and logs that stay cheap at 10,000+ entries (issue 14): Array.shift()
// and splice(0, 1) move every entry behind the head, one call at a time.

/** A first-in first-out queue whose head leaves by index; the array is compacted once mostly spent. */
export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(x: T): void {
    this.items.push(x);
  }

  /** Puts `x` before every queued entry (a retried call goes back first). */
  unshift(x: T): void {
    if (this.head > 0) this.items[--this.head] = x;
    else this.items.unshift(x);
  }

  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Takes the head; its slot is cleared so that what left is not kept reachable from here. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}

/**
 * Keeps the newest `cap` entries of a log, cutting in steps: once it is a
 * quarter over `cap` it goes back to `cap`, so a long run moves the log once
 * per cap/4 entries instead of once per entry. A reader sees between `cap`
 * and 1.25 × `cap` of the newest entries.
 */
export function keepTail<T>(log: T[], cap: number): void {
  if (log.length > cap + Math.max(1, cap >> 2)) log.splice(0, log.length - cap);
}
