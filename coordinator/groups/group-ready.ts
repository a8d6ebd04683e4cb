// Telling a group's owner what of it ended (docs/decisions.md "Task groups"): once a turn a group (ReadyTurn), in
// `groupReady` frames of bounded size (sendReady).
import type { MsgOf } from '../../shared/protocol/messages.js';
import type { Session } from '../session.js';
import type { GroupRecord } from './group-record.js';

/** A groupReady frame carries at most this many value bytes (more go in the next message). */
const READY_BYTES = 1 << 20;

/**
 * Tells the group's owner (its job's driver, when connected: a driver that resumes sends the group again and
 * is answered then) that members `ok` ended with their values, `failed` failed, `moved` are objects now.
 * Released members' values are not kept: they are sent as empty bytes (their owner dropped them).
 */
export function sendReady(
  grp: GroupRecord,
  ok: readonly number[],
  failed: readonly number[],
  moved: readonly number[],
  to: Session | null = grp.job.driver,
): void {
  const d = to;
  if (!d) return;
  let okPart: number[] = [];
  let v: Uint8Array[] = [];
  let bytes = 0;
  const out = (last: boolean): void => {
    const m: MsgOf<'groupReady'> = { t: 'groupReady', g: grp.g, ok: okPart, v };
    if (last) {
      const f = failed.filter((i) => grp.failure(i)).map((i) => ({ i, failure: grp.failure(i)! }));
      if (f.length) m.failed = f;
      if (moved.length) m.moved = [...moved];
    }
    d.send(m);
    okPart = [];
    v = [];
    bytes = 0;
  };
  for (const i of ok) {
    const val = grp.values[i] ?? EMPTY;
    if (bytes > 0 && bytes + val.byteLength > READY_BYTES) out(false);
    okPart.push(i);
    v.push(val);
    bytes += val.byteLength;
  }
  out(true);
}

const EMPTY = new Uint8Array(0);

/**
 * Groups with members ended (failed, moved) this turn: each owner is told once, a microtask after the frame's
 * messages (one groupReady a group a turn, not one a member).
 */
export class ReadyTurn {
  private due: GroupRecord[] = [];
  private queued = false;

  /** `grp` has news for its owner (readyOk, readyFailed, readyMoved): told at the turn's end. */
  add(grp: GroupRecord): void {
    if (!grp.readyDue) {
      grp.readyDue = true;
      this.due.push(grp);
    }
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    this.queued = false;
    const due = this.due;
    this.due = [];
    for (const grp of due) {
      const ok = grp.readyOk ?? [];
      const failed = grp.readyFailed;
      const moved = grp.readyMoved;
      grp.readyOk = grp.readyFailed = grp.readyMoved = null;
      grp.readyDue = false;
      sendReady(grp, ok, failed ?? [], moved ?? []);
    }
  };
}
