// A leased node's messages parked for a record that is late (issue 14,
// session 20; record-waits.ts). When the in-order wait for a driver's direct
// submission is given up (WAIT_MS with none of the node's leased drivers'
// frames waiting here), the node's messages that name what is not recorded
// yet (its task's reports, puts, nested submits, subscribes), and every later
// one naming the same task (a release of its put), are parked here in order;
// the rest of the node's messages go on. Each direct submission naming the
// node replays, in order, those whose record came (a task's parked messages
// never pass one another). Bounded per lease held (a node can lie): past
// PARKED_TASKS_PER_LEASE tasks a message is handled as it is (a report on a
// task never given counts against the node); past the message or byte bound,
// or after PARKED_MS, what is parked is given up as "spoiled": its reports are
// dropped, the rest handled as it is, and each task it named, once its
// submission comes, runs again as its next attempt, as a lost node's task
// (lineage): never a silent loss, never a result naming an object the GCS
// never recorded (before session 20 a given-up put was refused while the
// task's `done` waited: its result named an unknown object).
import { taskOfObject, type ObjectId, type TaskId } from '../shared/ids.js';
import { DIRECT_UNRECORDED_MAX } from '../shared/protocol/direct.js';
import { payloadBytes } from '../shared/protocol/frame.js';
import type { Msg, MsgOf } from '../shared/protocol/messages.js';
import type { Session } from './session.js';

/**
 * Tasks a node may have messages parked for at once, per lease it holds. A driver runs at most DIRECT_UNRECORDED_MAX
 * tasks ahead of its records here; twice that leaves room for a driver that resumed (its window starts again).
 */
export const PARKED_TASKS_PER_LEASE = 2 * DIRECT_UNRECORDED_MAX;
/** Messages, and their bytes, a node may have parked per lease it holds (a direct task may put many objects). */
export const PARKED_MSGS_PER_LEASE = 1_024;
export const PARKED_BYTES_PER_LEASE = 4 << 20;
/** A parked message whose record did not come in this long spoils what is parked. */
export const PARKED_MS = 30_000;
/** Spoiled tasks a node session remembers (their submissions re-run them); the oldest is forgotten first. */
const SPOILED_MAX = 1_024;

/** A message's kinds that report on a task's run: dropped when it is spoiled (its run is re-done). */
const REPORTS = new Set<Msg['t']>(['started', 'done', 'failed', 'blocked', 'log']);
type Report = MsgOf<'started' | 'done' | 'failed' | 'blocked' | 'log'>;

/** Whether `m` reports on a task's run (it names the task by `taskId`). */
export function isReport(m: Msg): m is Report {
  return REPORTS.has(m.t);
}

/** The tasks message `m` names: reported on, or whose objects or children it names. */
export function tasksNamed(m: Msg): string[] {
  if (isReport(m)) return [m.taskId];
  switch (m.t) {
    case 'submit': {
      const out: string[] = [m.spec.parentId, m.spec.taskId];
      for (const a of m.spec.args) if (a.r !== undefined) out.push(taskOfObject(a.r));
      for (const id of m.spec.nested) out.push(taskOfObject(id));
      return out;
    }
    case 'put':
    case 'cancel':
      return [taskOfObject(m.id)];
    case 'subscribe':
    case 'borrow':
    case 'release':
    case 'took':
      return m.ids.map((id) => taskOfObject(id));
    case 'killActor':
      return [m.id];
    default:
      return [];
  }
}

/** What an unrecorded name parks under: a task, the task of an object, or a job (a node's right awaited). */
export function keyOf(what: string): string {
  return taskOfObject(what as ObjectId);
}

type Entry = { m: Msg; key: string; tasks: string[]; bytes: number; at: number };

class SessionParked {
  readonly entries: Entry[] = [];
  /** Entries naming each task (or key), to keep a task's later messages behind its parked ones. */
  readonly named = new Map<string, number>();
  /** Distinct keys parked under. */
  readonly keys = new Map<string, number>();
  bytes = 0;
  /** Tasks whose parked messages were given up: oldest first. */
  readonly spoiled = new Set<string>();

  add(e: Entry): void {
    this.entries.push(e);
    this.bytes += e.bytes;
    this.keys.set(e.key, (this.keys.get(e.key) ?? 0) + 1);
    for (const t of names(e)) this.named.set(t, (this.named.get(t) ?? 0) + 1);
  }

  remove(e: Entry): void {
    this.bytes -= e.bytes;
    dec(this.keys, e.key);
    for (const t of names(e)) dec(this.named, t);
  }

  names(m: Msg): boolean {
    if (this.named.size === 0) return false;
    for (const t of tasksNamed(m)) if (this.named.has(t)) return true;
    return false;
  }

  spoil(e: Entry): void {
    for (const t of runsNamed(e.m)) {
      this.spoiled.delete(t);
      this.spoiled.add(t);
    }
    while (this.spoiled.size > SPOILED_MAX) this.spoiled.delete(this.spoiled.values().next().value!);
  }
}

/** The task runs on the node that message `m` is part of: what a spoiled `m` gives up (its reports, puts, children). */
function runsNamed(m: Msg): string[] {
  if (isReport(m)) return [m.taskId];
  switch (m.t) {
    case 'put':
      return [taskOfObject(m.id)];
    case 'submit':
      return [m.spec.parentId, m.spec.taskId];
    default:
      return [];
  }
}

function names(e: Entry): string[] {
  return e.tasks.includes(e.key) ? e.tasks : [e.key, ...e.tasks];
}

function dec(m: Map<string, number>, k: string): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n <= 0) m.delete(k);
  else m.set(k, n);
}

export class ParkedMessages {
  private readonly bySession = new WeakMap<Session, SessionParked>();
  /** Messages parked, and messages given up as spoiled (`/api/stats` `recordWaitsOver`, `recordParkSpoiled`). */
  readonly counts = { parked: 0, spoiled: 0 };

  constructor(
    /** Whether node session `s`'s message `m` names nothing unrecorded now (record-waits.ts). */
    private readonly known: (s: Session, m: Msg) => boolean,
    /** Handles a message now: a parked one whose record came, or a spoiled one that is not a report (as it is). */
    private readonly handle: (s: Session, m: Msg) => void,
  ) {}

  /** Whether session `s` has messages parked. */
  has(s: Session): boolean {
    return (this.bySession.get(s)?.entries.length ?? 0) > 0;
  }

  /** Whether `m` names a task with messages parked: it is parked behind them, under the first such task. */
  behind(s: Session, m: Msg): string | null {
    const p = this.bySession.get(s);
    if (!p || !p.names(m)) return null;
    for (const t of tasksNamed(m)) if (p.named.has(t)) return t;
    return null;
  }

  /**
   * What comes of `m` if it names a task spoiled here (until its submission runs it again): a report is dropped,
   * anything else handled as it is (a put refused); null if it names none.
   */
  spoiled(s: Session, m: Msg): 'drop' | 'as-is' | null {
    const p = this.bySession.get(s);
    if (!p || p.spoiled.size === 0) return null;
    if (!runsNamed(m).some((t) => p.spoiled.has(t))) return null;
    // A child of a spoiled task is refused: its own reports are dropped too.
    if (m.t === 'submit') p.spoil({ m, key: m.spec.taskId, tasks: [], bytes: 0, at: 0 });
    return isReport(m) ? 'drop' : 'as-is';
  }

  /** Whether session `s` gave up task `taskId`'s messages (its run there is given up): asked at its submission, true once. */
  takeSpoiled(s: Session, taskId: TaskId): boolean {
    const p = this.bySession.get(s);
    if (!p) return false;
    if (p.entries.length > 0 && Date.now() - p.entries[0].at > PARKED_MS) this.spoil(s, p);
    return p.spoiled.delete(taskId);
  }

  /**
   * Parks `m` under `key` for session `s` holding `leases` leases: false when `key` would pass the tasks bound (then
   * `m` is handled as it is). Past the message or byte bound, what is parked is spoiled (and `m` with it).
   */
  park(s: Session, m: Msg, key: string, leases: number): boolean {
    let p = this.bySession.get(s);
    if (!p) this.bySession.set(s, (p = new SessionParked()));
    const now = Date.now();
    if (p.entries.length > 0 && now - p.entries[0].at > PARKED_MS) this.spoil(s, p);
    if (!p.keys.has(key) && p.keys.size >= PARKED_TASKS_PER_LEASE * leases) return false;
    const e: Entry = { m, key, tasks: tasksNamed(m), bytes: payloadBytes(m), at: now };
    p.add(e);
    this.counts.parked++;
    if (p.entries.length > PARKED_MSGS_PER_LEASE * leases || p.bytes > PARKED_BYTES_PER_LEASE * leases) this.spoil(s, p);
    return true;
  }

  /**
   * Looks at session `s`'s parked messages again, in order (a record came): each whose record is here now is
   * handled, unless it names a task an earlier one still waits for.
   */
  replay(s: Session): void {
    const p = this.bySession.get(s);
    if (!p || p.entries.length === 0) return;
    const all = p.entries.splice(0);
    const waiting = new Set<string>();
    for (let i = 0; i < all.length; i++) {
      const e = all[i];
      if (s.closed) break;
      const blocked = names(e).some((t) => waiting.has(t));
      if (!blocked) {
        if (this.known(s, e.m)) {
          p.remove(e);
          this.handle(s, e.m);
          continue;
        }
        p.entries.push(e);
      } else p.entries.push(e);
      for (const t of names(e)) waiting.add(t);
    }
  }

  /**
   * Gives up what session `s` has parked, in order: a message whose record is here is handled; else each task it
   * names is spoiled (runs again at its submission), a report dropped, anything else handled as it is.
   */
  private spoil(s: Session, p: SessionParked): void {
    const all = p.entries.splice(0);
    for (const e of all) p.remove(e);
    for (const e of all) {
      if (s.closed) return;
      if (this.known(s, e.m)) {
        this.handle(s, e.m);
        continue;
      }
      p.spoil(e);
      this.counts.spoiled++;
      if (!isReport(e.m)) this.handle(s, e.m);
    }
  }
}
