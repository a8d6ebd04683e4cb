// A direct task's own messages wait for its record (issue 14, session 17;
// shared/protocol/direct.ts). A driver sends a task straight to a node and its
// `submit` to the coordinator on another socket: the task's messages from the
// node (its started and done, its puts and nested submits, the subscribe of a
// get on a ref its driver made just before) can come first, when nothing here
// knows the task or the objects they name. From the first such message of a
// node session holding a lease, that session's messages wait, in order (the
// inbox's backlog), until a direct submission naming the node is handled (then
// the message is looked at again), or until WAIT_MS pass with none of its
// leased drivers' frames waiting here (at most WAIT_MAX_MS). Then the session
// goes on, and its messages naming what is not recorded yet are parked
// (parked-messages.ts) until a submission naming the node records it: for
// WAIT_MS after the give-up at once, then after a wait of their own (a dead
// driver's window of tasks costs one wait, not one each). A `cancel` or
// `killActor` from such a task waits likewise while the node runs no recorded
// task of the job it names (session 18: its right comes with the record).
import { isArtifactObject, taskOfObject, type ObjectId } from '../shared/ids.js';
import type { Msg } from '../shared/protocol/messages.js';
import type { Gcs } from './gcs/gcs.js';
import type { DirectLeases } from './scheduler/direct-leases.js';
import type { Session } from './session.js';
import { isReport, keyOf, ParkedMessages } from './parked-messages.js';

/** A held message waits this long for its record while no leased driver's frames wait here (then it is parked). */
export const WAIT_MS = 2_000;
/** ... and this long at most while they do (as long as a parked message waits, parked-messages.ts). */
export const WAIT_MAX_MS = 30_000;

/** An object neither known nor of a known task (a task's outputs are known once it is). Artifacts wait in their registry. */
function unknownObject(gcs: Gcs, id: ObjectId): boolean {
  return !gcs.objects.has(id) && !isArtifactObject(id) && !gcs.tasks.has(taskOfObject(id));
}

/** What node message `m` names that this coordinator does not know (a task, or an object of an unknown task), or null. */
export function namesUnknown(gcs: Gcs, m: Msg): string | null {
  // A task group member's console line names its group and index (task-logs.ts): it has no record to wait for.
  if (isReport(m)) return gcs.tasks.has(m.taskId) || (m.t === 'log' && m.g !== undefined) ? null : m.taskId;
  switch (m.t) {
    case 'submit': {
      // A nested task: its parent (the direct task), and the refs it passes on.
      if (!gcs.tasks.has(m.spec.parentId)) return m.spec.parentId;
      for (const a of m.spec.args) if (a.r !== undefined && unknownObject(gcs, a.r)) return a.r;
      for (const id of m.spec.nested) if (unknownObject(gcs, id)) return id;
      return null;
    }
    case 'put':
      return isArtifactObject(m.id) || gcs.tasks.has(taskOfObject(m.id)) ? null : m.id;
    case 'subscribe':
    case 'borrow':
      for (const id of m.ids) if (unknownObject(gcs, id)) return id;
      return null;
    default:
      return null;
  }
}

type Wait = {
  since: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** Nothing to look at before a wake: the drain passes this session by. */
  asleep: boolean;
  /**
   * When the wait was given up (Infinity: the session closes): for WAIT_MS after it, the session's messages naming
   * unknown tasks are parked without a new wait (a dead driver's window of tasks costs one wait, not one each).
   */
  overAt: number | null;
};

/** What comes of a node's message: handled now, waiting in order with the session's frames, or parked (taken). */
export type Verdict = 'go' | 'wait' | 'parked';

export class RecordWaits {
  private readonly waits = new WeakMap<Session, Wait>();
  /** Messages held for a record (`/api/stats` `recordWaits`). */
  readonly counts = { held: 0 };
  /** Messages parked after a wait was given up (`recordWaitsOver`), and those given up as spoiled (`recordParkSpoiled`). */
  readonly parked: ParkedMessages;

  constructor(
    private readonly gcs: Gcs,
    private readonly leases: DirectLeases,
    /** Whether session `s` has frames waiting in the inbox. */
    private readonly backlogged: (s: Session) => boolean,
    /** A held session may go on: the inbox serves its backlog in a later turn. */
    private readonly resume: () => void,
    /** What a node's `cancel` or `killActor` lacks the right for until a record comes (handlers.ts rightAwaited), or null. */
    private readonly right: (s: Session, m: Msg) => string | null = () => null,
    /** Handles a node's message now (the inbox's checks and handler): a parked one whose record came, or a spoiled one. */
    handle: (s: Session, m: Msg) => void = () => {},
  ) {
    this.parked = new ParkedMessages((s, m) => this.unknown(s, m) === null, handle);
    leases.onSubmitted = (s) => this.wake(s);
    leases.givenUp = (s, taskId) => this.parked.takeSpoiled(s, taskId);
  }

  /** What comes of node session `s`'s message `m` now (`wait`: it waits, with the rest of the session's frames behind it). */
  decide(s: Session, m: Msg): Verdict {
    const w = this.waits.get(s);
    if (!w && !s.direct) return 'go';
    if (this.parked.has(s)) {
      // A task's messages keep their order: behind its parked ones (a release of its put), or dropped once spoiled.
      const behind = this.parked.behind(s, m);
      if (behind !== null && this.parked.park(s, m, behind, this.leases.leaseCount(s))) return 'parked';
    }
    const spoiled = this.parked.spoiled(s, m);
    if (spoiled !== null) return spoiled === 'drop' ? 'parked' : 'go';
    const what = this.unknown(s, m);
    if (what === null) {
      // Its record came (or it names nothing unknown).
      if (w && w.overAt === null) this.end(s, w);
      return 'go';
    }
    if (w && w.overAt !== null && Date.now() - w.overAt < WAIT_MS) {
      // Past the bound of what a node may have parked, it is handled as it is (a report on a task never given is a lie).
      return this.parked.park(s, m, keyOf(what), this.leases.leaseCount(s)) ? 'parked' : 'go';
    }
    if (w && w.overAt === null) {
      w.asleep = true;
      return 'wait';
    }
    if (!this.leases.leasedOn(s)) return 'go';
    this.waits.set(s, { since: Date.now(), timer: this.timer(s, WAIT_MS), asleep: true, overAt: null });
    this.counts.held++;
    return 'wait';
  }

  /** Whether node session `s` waits for a record (its backlog is not served until it is woken). */
  asleep(s: Session): boolean {
    return this.waits.get(s)?.asleep === true;
  }

  /** A direct submission naming node session `s` was handled: its parked messages, then its held one, are looked at again. */
  wake(s: Session): void {
    this.parked.replay(s);
    const w = this.waits.get(s);
    if (!w?.asleep) return;
    w.asleep = false;
    this.resume();
  }

  /** What message `m` of node session `s` names that is not recorded yet, or a right it awaits; null when nothing. */
  private unknown(s: Session, m: Msg): string | null {
    return namesUnknown(this.gcs, m) ?? (m.t === 'cancel' || m.t === 'killActor' ? this.right(s, m) : null);
  }

  /** Session `s` is closing: what it sent is handled now, as it is (its close waits for it). */
  closing(s: Session): void {
    const w = this.waits.get(s);
    if (w) this.giveUp(w, Infinity);
  }

  private end(s: Session, w: Wait): void {
    if (w.timer) clearTimeout(w.timer);
    this.waits.delete(s);
  }

  private giveUp(w: Wait, at: number): void {
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    w.overAt = at;
    if (!w.asleep) return;
    w.asleep = false;
    this.resume();
  }

  private timer(s: Session, ms: number): ReturnType<typeof setTimeout> {
    const t = setTimeout(() => {
      const w = this.waits.get(s);
      if (!w || w.overAt !== null) return;
      // A leased driver's frames wait here (its submissions behind its own backlog): the record is on its way.
      const waited = Date.now() - w.since;
      if (waited < WAIT_MAX_MS && this.leases.driversOf(s).some(this.backlogged)) {
        w.timer = this.timer(s, Math.min(WAIT_MS, WAIT_MAX_MS - waited));
        return;
      }
      this.giveUp(w, Date.now());
    }, ms);
    t.unref?.();
    return t;
  }
}
