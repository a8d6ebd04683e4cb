// A task group as its owner keeps it (driver-groups.ts): its members' ids and states, its submitGroup message
// until every member ended; and which calls may be members.
import { taskOfObject, type ObjectId, type TaskId } from '../ids.js';
import type { MsgOf, TaskSpec } from '../protocol/messages.js';

/** A member's state bits in its group. */
export const ENDED = 1;
/** Materialized (by this driver before its ref escaped, or `moved` by the coordinator): an ordinary task now. */
export const OUT = 2;
/** Its ref was dropped by the driver. */
export const RELEASED = 4;

/** The state of a group not sent (open, or gone as plain submits): no allocation a group of one. */
const NO_STATE = new Uint8Array(0);

/** One group this driver made: open (its members' specs, this turn) or sent (its submitGroup, kept until every member ended). */
export class OwnedGroup {
  /** Members' specs while the group is open; null once it went (as a group, or as plain submits). */
  specs: TaskSpec[] | null = [];
  /** Its message, once sent as a group. */
  msg: MsgOf<'submitGroup'> | null = null;
  /** Members' output ids, in member order. */
  readonly ids: ObjectId[] = [];
  /** Each member's ENDED / OUT / RELEASED bits. */
  state = NO_STATE;
  /** Members neither ended nor out: while any, a resume sends the group again. */
  open = 0;
  /** Its members' inline argument bytes, about (GROUP_MAX_BYTES bounds them). */
  bytes = 0;

  constructor(
    /** The RemoteFunction (with its options) that made it. */
    readonly key: object,
    /** The parent's submit index of member 0. */
    readonly first: number,
  ) {}

  get g(): TaskId {
    return this.msg!.spec.taskId;
  }

  /** Member `i` as the ordinary task it becomes once materialized (the spec it would have had alone). */
  memberSpec(i: number): TaskSpec {
    const m = this.msg!;
    return { ...m.spec, taskId: taskOfObject(this.ids[i]), args: m.args[i].map((v) => ({ v })) };
  }
}

/** Whether a task may be a group's member (the design's "Which tasks group"): one inline-args-only, plain, single-output call. */
export function groupable(spec: TaskSpec): boolean {
  if (spec.actor !== undefined || spec.numReturns !== 1 || spec.scheduling !== undefined || spec.verify !== undefined) return false;
  if (spec.nested.length !== 0) return false;
  const args = spec.args;
  for (let i = 0; i < args.length; i++) if (args[i].v === undefined) return false;
  return true;
}

/** The object ids a spec names: its ref arguments and the refs nested in its inline values. */
export function refsOf(spec: TaskSpec): ObjectId[] {
  const out: ObjectId[] = [];
  for (const a of spec.args) if (a.r !== undefined) out.push(a.r);
  for (const id of spec.nested) out.push(id);
  return out;
}
