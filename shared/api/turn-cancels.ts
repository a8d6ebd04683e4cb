// A driver's cancels of one turn, sent together (issue 14, session 29; docs/decisions.md "A loop of single cancels
// ..."). A task group's member leaves its group (`materialize`) before its cancel: a list given to one
// `mesh.cancel` made one `materialize` a group, but a loop of single `mesh.cancel(ref)` calls made one each (1,000
// messages for 1,000 members of one group). Held until the turn ends (a microtask), the turn's cancels make one
// `materialize` a group, then one `cancel` an id (the wire keeps one a task). A message that names refs (a task's
// arguments, a put's nested refs, a borrow, a release) or the driver's close sends them first: a member it names
// leaves its group after the cancelled ones, and a cancelled task is never named before its cancel. Not at every
// message: the open group's own submission (DriverGroups.closeOpen, from any push) must precede its cancels.
import type { ObjectId } from '../ids.js';
import type { Msg } from '../protocol/messages.js';

export class TurnCancels {
  private ids: ObjectId[] = [];
  private force: boolean[] = [];

  constructor(
    /** Members among `ids` leave their groups (DriverGroups.escape: one `materialize` a group). */
    private readonly escape: (ids: readonly ObjectId[]) => void,
    /** To the coordinator, in order with all else. */
    private readonly push: (m: Msg) => void,
  ) {}

  /** Cancels waiting for the turn's end. */
  get pending(): boolean {
    return this.ids.length > 0;
  }

  /** Cancels of these tasks (by their outputs), sent at the turn's end or before the next message. */
  add(ids: readonly ObjectId[], force: boolean): void {
    if (ids.length === 0) return;
    if (this.ids.length === 0) queueMicrotask(this.send);
    for (let k = 0; k < ids.length; k++) {
      this.ids.push(ids[k]);
      this.force.push(force);
    }
  }

  /** Sends the waiting cancels now: their members' `materialize`s (one a group), then a `cancel` each. */
  readonly send = (): void => {
    const ids = this.ids;
    if (ids.length === 0) return;
    const force = this.force;
    // Taken first: what escape sends (the open group's submission, materializes) must not find them pending.
    this.ids = [];
    this.force = [];
    this.escape(ids);
    for (let k = 0; k < ids.length; k++) this.push({ t: 'cancel', id: ids[k], force: force[k] });
  };
}
