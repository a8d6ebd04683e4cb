// Objects by session (issue 14): which objects a session holds a copy of, or
// waits on, so that a closing session costs what it held rather than a walk
// over every object in the directory. Kept by the directory as it writes
// locations and subscribers; an entry goes with its session.
import type { Session } from '../session.js';

const NONE: ReadonlySet<never> = new Set();

export class BySession<T> {
  private readonly m = new WeakMap<Session, Set<T>>();

  add(s: Session, o: T): void {
    let set = this.m.get(s);
    if (!set) this.m.set(s, (set = new Set()));
    set.add(o);
  }

  delete(s: Session, o: T): void {
    this.m.get(s)?.delete(o);
  }

  /** What `s` has now (read only: the directory changes it). */
  of(s: Session): ReadonlySet<T> {
    return this.m.get(s) ?? NONE;
  }

  /** Forgets `s` and answers what it had. */
  take(s: Session): ReadonlySet<T> {
    const set = this.m.get(s);
    this.m.delete(s);
    return set ?? NONE;
  }
}
