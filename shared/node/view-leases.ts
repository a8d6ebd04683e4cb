// Views of object memory lent to one executor (issue 17). A large argument or
// fetched object is posted to an executor as shared memory; the executor's
// task may keep a view of it for as long as it likes (a global, an actor's
// field). Each view posted is a lease, numbered here and named in the
// message (`lent`); the executor gives leases back when its garbage collector
// found their buffer unreachable (shared/executor/view-release.ts). A buffer
// whose object was freed goes back to the memory pool once every lease of it
// came back (shared/bytes.ts); when one is freed while this executor holds a
// lease of it, the executor is asked to collect now (`reclaim`).
import { lendView, onReclaim, returnView, type Lender } from '../bytes.js';

/** What a message to an executor names: a buffer posted in it and its lease. */
export interface Lent {
  buf: SharedArrayBuffer;
  id: number;
}

/** Most lease ids one `unlent` message may give back (it comes from another thread: bounded). */
export const UNLENT_MAX = 1 << 16;

export class ViewLeases implements Lender {
  private next = 1;
  private readonly out = new Map<number, SharedArrayBuffer>();
  private batch: Lent[] = [];
  private readonly stop: () => void;
  /** Leases out per buffer, and who waits for the last of them to come back (arg-writes.ts: writes after a task's end). */
  private readonly held = new Map<SharedArrayBuffer, number>();
  private readonly watchers = new Map<SharedArrayBuffer, (() => void)[]>();

  /** `reclaim`: asks the executor to let go of these leases if it can (their buffers were freed). */
  constructor(private readonly reclaim: (ids: number[]) => void) {
    this.stop = onReclaim((buf) => {
      const ids: number[] = [];
      for (const [id, b] of this.out) if (b === buf) ids.push(id);
      if (ids.length > 0) this.reclaim(ids);
    });
  }

  lend(bytes: Uint8Array): boolean {
    const buf = lendView(bytes);
    if (!buf) return false;
    const id = this.next++;
    this.out.set(id, buf);
    this.held.set(buf, (this.held.get(buf) ?? 0) + 1);
    this.batch.push({ buf, id });
    return true;
  }

  /** The leases lent since the last call: they go in the message being posted. */
  take(): Lent[] | undefined {
    if (this.batch.length === 0) return undefined;
    const b = this.batch;
    this.batch = [];
    return b;
  }

  /** The executor let these views go. Ids it was never lent (or gave back already) are ignored. */
  returned(ids: unknown): void {
    if (!Array.isArray(ids) || ids.length > UNLENT_MAX) return;
    for (const id of ids) {
      if (typeof id !== 'number') continue;
      const buf = this.out.get(id);
      if (!buf) continue;
      this.out.delete(id);
      returnView(buf);
      const k = this.held.get(buf)! - 1;
      if (k > 0) this.held.set(buf, k);
      else this.letGo(buf);
    }
  }

  /** `f` runs once this executor holds no lease of `buf` (at once when it holds none), or when it is gone. */
  whenLetGo(buf: SharedArrayBuffer, f: () => void): void {
    if (!this.held.has(buf)) return f();
    const w = this.watchers.get(buf);
    if (w) w.push(f);
    else this.watchers.set(buf, [f]);
  }

  private letGo(buf: SharedArrayBuffer): void {
    this.held.delete(buf);
    const w = this.watchers.get(buf);
    if (!w) return;
    this.watchers.delete(buf);
    for (const f of w) f();
  }

  get count(): number {
    return this.out.size;
  }

  /** The executor is gone (terminated or crashed): no view of its can be read any more. */
  close(): void {
    this.stop();
    this.batch = [];
    for (const buf of this.out.values()) returnView(buf);
    this.out.clear();
    // What it wrote before it went is still to be seen.
    for (const buf of [...this.watchers.keys()]) this.letGo(buf);
    this.held.clear();
  }
}
