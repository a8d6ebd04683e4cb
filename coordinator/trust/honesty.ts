// What a node may claim (issue 8): results only for tasks it was assigned,
// copies only of objects it asked for. The coordinator remembers, per
// session and bounded, which tasks it placed there and which objects the
// session asked to locate or fetch, so that a late report (the task was
// cancelled, its job ended) is told apart from a made-up one.
import { ownId, type ObjectId, type TaskId } from '../../shared/ids.js';
import type { Session } from '../session.js';
import { KeyRing } from './key-ring.js';

/** Remembered per session; the oldest are forgotten first (and then get the benefit of the doubt). */
export const REMEMBER = 50_000;

/** A set of the last REMEMBER keys; the oldest leaves through a ring (no scan of a set's deleted entries). */
class Recent<K> {
  private readonly set = new Set<K>();
  private readonly ring: K[] = [];
  private next = 0;
  add(x: K): void {
    if (this.set.has(x)) return;
    if (this.ring.length === REMEMBER) this.set.delete(this.ring[this.next]);
    this.ring[this.next] = x;
    this.next = (this.next + 1) % REMEMBER;
    this.set.add(x);
  }
  has(x: K): boolean {
    return this.set.has(x);
  }
  get full(): boolean {
    return this.set.size >= REMEMBER;
  }
  get size(): number {
    return this.set.size;
  }
}

/**
 * A task id as a number: its first 48 bits (task ids are hashes, ARCHITECTURE.md "Identities").
 * A string kept here was an owned copy of ~70 bytes, 50,000 of them per node after a burst
 * (issue 14); a made-up id passes for a placed one with odds of 1 in 2^48 / REMEMBER.
 */
export function taskKey(id: TaskId): number {
  return parseInt(id.slice(0, 12), 16);
}

/**
 * A session's memory; a part that filled up is dropped (null): a full one answers yes to every question (the
 * oldest are forgotten, and get the benefit of the doubt), so it held ~1.45 MB per node that had run 50,000
 * tasks (the KeyRing's arrays; heap snapshot after bench:tasks, issue 14, session 25) and a Set of 50,000
 * object ids per reader that had asked for as many, to say yes.
 */
interface Memory {
  /** Task keys (taskKey) placed on the session's node; null once REMEMBER were: any may be reported. */
  tasks: KeyRing | null;
  /** Objects the session asked to locate or fetch; null once REMEMBER were: any may be claimed. */
  asked: Recent<ObjectId> | null;
  /** Nodes this session reported as sending bad chunks. */
  accused: Set<string>;
}

export class Honesty {
  private readonly memory = new WeakMap<Session, Memory>();

  private of(s: Session): Memory {
    let m = this.memory.get(s);
    if (!m) this.memory.set(s, (m = { tasks: new KeyRing(REMEMBER), asked: new Recent(), accused: new Set() }));
    return m;
  }

  /** A task (or a replica of one) was placed on the session's node. */
  placed(s: Session, task: TaskId): void {
    const m = this.of(s);
    if (!m.tasks) return;
    m.tasks.add(taskKey(task));
    if (m.tasks.size >= REMEMBER) m.tasks = null;
  }

  /** The session asked where an object is, or for its bytes. */
  asked(s: Session, id: ObjectId): void {
    const m = this.of(s);
    if (!m.asked || m.asked.has(id)) return;
    m.asked.add(ownId(id));
    if (m.asked.full) m.asked = null;
  }

  /** Whether a report about `task` from `s` can be a late one rather than a lie. */
  mayReport(s: Session, task: TaskId): boolean {
    const m = this.of(s).tasks;
    return m === null || m.has(taskKey(task));
  }

  /** Keys the session's memory holds (placed tasks, asked objects): what it costs; 0 for a part that filled up. */
  held(s: Session): { tasks: number; asked: number } {
    const m = this.memory.get(s);
    return { tasks: m?.tasks?.size ?? 0, asked: m?.asked?.size ?? 0 };
  }

  /**
   * Whether `s` may report node `node` for a bad chunk of `id` (issue 17): it
   * asked for `id`, and has not reported `node` before (once per reader).
   */
  mayAccuse(s: Session, id: ObjectId, node: string): boolean {
    const m = this.of(s);
    if (!(m.asked === null || m.asked.has(id)) || m.accused.has(node) || m.accused.size >= REMEMBER) return false;
    m.accused.add(node);
    return true;
  }

  /** Whether `s` may say it stored a copy of `id`. */
  mayStore(s: Session, id: ObjectId): boolean {
    const m = this.of(s).asked;
    return m === null || m.has(id);
  }
}
