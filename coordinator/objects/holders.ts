// The sessions holding an object's bytes (issue 14): almost always none
// (inline values) or one (its creator), so the first holder is a field and a
// Set exists only past one. An empty `new Set()` per object record cost
// ~250 bytes (the Set and its hash table) of every in-flight task; a record
// with none shares NO_HOLDERS.
import type { Session } from '../session.js';

/** An iterator over nothing, shared: an array iterator once done stays done. */
const NONE: Iterator<Session> = ([] as Session[]).values();

export class Holders implements Iterable<Session> {
  private one: Session | null = null;
  private many: Set<Session> | null = null;

  constructor(holders?: Iterable<Session>) {
    if (holders) for (const s of holders) this.add(s);
  }

  get size(): number {
    return this.many ? this.many.size : this.one ? 1 : 0;
  }

  has(s: Session): boolean {
    return this.many ? this.many.has(s) : this.one === s;
  }

  add(s: Session): this {
    if (this.many) this.many.add(s);
    else if (this.one === null) this.one = s;
    else if (this.one !== s) {
      // Past one: a Set, in the order the holders came.
      this.many = new Set([this.one, s]);
      this.one = null;
    }
    return this;
  }

  /** Whether `s` was a holder. */
  delete(s: Session): boolean {
    if (this.many) {
      const was = this.many.delete(s);
      if (this.many.size === 1) {
        this.one = this.many.values().next().value ?? null;
        this.many = null;
      }
      return was;
    }
    if (this.one !== s) return false;
    this.one = null;
    return true;
  }

  clear(): void {
    this.one = null;
    this.many = null;
  }

  [Symbol.iterator](): Iterator<Session> {
    if (this.many) return this.many.values();
    return this.one ? [this.one].values() : NONE;
  }
}

/** No holders, shared by every record that has had none (most: inline values); the directory gives a record its own at its first holder. */
class NoHolders extends Holders {
  override add(): this {
    throw new Error('the shared empty Holders cannot take a holder: the directory gives the record its own first');
  }
}
export const NO_HOLDERS: Holders = new NoHolders();
