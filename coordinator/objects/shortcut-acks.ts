// A driver's `get` always completes, shortcut or not (issue 14, session 15).
// A node whose `done` says its result went straight to the driver (`sc`,
// shared/protocol/shortcut.ts) may be lying, or its shortcut may be lost on a
// link that stays open: the driver's subscription is not dropped on the
// node's word. It waits here until the driver says it took the value (`took`,
// riding on a frame the driver sends anyway: no frame is added on the happy
// path) or, unacknowledged after ACK_WAIT_MS to 2 x ACK_WAIT_MS, gets its
// `ready` after all, coalesced with the others due in that sweep. A sweep
// subscribes at most SWEEP_IDS a turn (issue 14: a driver that lags owes
// thousands at once), the rest in the next turns.
import type { ObjectId } from '../../shared/ids.js';
import { nextTurn } from '../../shared/turn.js';
import type { Session } from '../session.js';
import { traffic } from '../traffic.js';

/** A shortcut's `ready` is owed after this long without the driver's `took` (one sweep period: due after 1 to 2 periods). */
export const ACK_WAIT_MS = 1000;

/** Ids subscribed again in one turn, at most (a subscribe is a few µs an id: 512 are a few ms). */
export const SWEEP_IDS = 512;

type Owed = Map<Session, Set<ObjectId>>;

export class ShortcutAcks {
  /** Two generations: `young` since the last sweep, `old` owed at the next one. */
  private young: Owed = new Map();
  private old: Owed = new Map();
  /**
   * Results a node said went straight to a driver that had not subscribed yet (a direct task's `done` can come
   * before the driver's frame with its submit and subscribe, shared/protocol/direct.ts): that subscribe is held back
   * as the others. Two generations too.
   */
  private unclaimed = new Set<ObjectId>();
  private oldUnclaimed = new Set<ObjectId>();
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Owed past their wait, subscribed SWEEP_IDS a turn; `serving`: a turn of them is scheduled. */
  private due: Owed = new Map();
  private serving = false;
  /** Turns in which the due ids were subscribed (tests: a large sweep is cut). */
  dueTurns = 0;

  /** `subscribe`: the directory's (a ready object's `ready` at once, a re-run one's when it settles, a freed one's loss). */
  constructor(private readonly subscribe: (s: Session, ids: ObjectId[]) => void) {}

  /** Driver `s` should have object `id` from a node's shortcut: its `ready` is owed unless it says `took`. */
  expect(s: Session, id: ObjectId): void {
    let ids = this.young.get(s);
    if (!ids) this.young.set(s, (ids = new Set()));
    ids.add(id);
    this.arm();
  }

  private arm(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.sweep(), ACK_WAIT_MS);
    this.timer.unref?.();
  }

  /** A node said object `id` went straight to its driver, which does not wait on it yet. */
  unsubscribed(id: ObjectId): void {
    this.unclaimed.add(id);
    this.arm();
  }

  /** Whether the driver's subscribe to `id` is the one a shortcut answered (then it is owed a `ready` only if it says no `took`). */
  claim(id: ObjectId): boolean {
    return this.unclaimed.delete(id) || this.oldUnclaimed.delete(id);
  }

  /** Driver `s` took `id` from a shortcut (its `took` may come before the node's `done`: then nothing is owed). */
  took(s: Session, id: ObjectId): boolean {
    return this.young.get(s)?.delete(id) === true || this.old.get(s)?.delete(id) === true || this.due.get(s)?.delete(id) === true;
  }

  /** Subscribes each driver again to what it was owed a sweep period ago (a closed session's are forgotten), SWEEP_IDS a turn. */
  private sweep(): void {
    for (const [s, ids] of this.old) {
      if (s.closed || ids.size === 0) continue;
      const d = this.due.get(s);
      if (!d) this.due.set(s, ids);
      else for (const id of ids) d.add(id);
    }
    this.old = this.young;
    this.young = new Map();
    this.oldUnclaimed = this.unclaimed;
    this.unclaimed = new Set();
    if (this.old.size === 0 && this.oldUnclaimed.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
    if (this.due.size > 0 && !this.serving) this.serveDue();
  }

  private readonly serveDue = (): void => {
    this.serving = false;
    this.dueTurns++;
    let left = SWEEP_IDS;
    for (const [s, ids] of this.due) {
      if (s.closed) {
        this.due.delete(s);
        continue;
      }
      const batch: ObjectId[] = [];
      for (const id of ids) {
        if (batch.length === left) break;
        batch.push(id);
        ids.delete(id);
      }
      if (ids.size === 0) this.due.delete(s);
      left -= batch.length;
      traffic.shortcutReadies += batch.length;
      this.subscribe(s, batch);
      if (left === 0) break;
    }
    if (this.due.size > 0 && !this.serving) {
      this.serving = true;
      nextTurn(this.serveDue);
    }
  };
}
