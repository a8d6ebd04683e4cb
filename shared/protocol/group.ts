// Task groups on the wire (issue 14, session 26; docs/decisions.md "Task groups"): N tasks of one function with
// the same options and inline arguments only, submitted by a driver in one turn, travel and are kept as one
// record. Member i is the task the driver would have submitted alone: its task id is
// childTaskId(spec.parentId, first + i), its output's id returnObjectId(that, 0); grouping changes no id.
// The group's id `g` is member 0's task id (spec.taskId). A member leaves the group (is "materialized": an
// ordinary task record and object record from then on) when anything but its owner's get and release touches it.
import { arr, bool, int, lit, numIn, obj, opt, type Check } from './check.js';
import { failureCheck, fnSource, resultCheck, taskSpecCheck, type TaskResult } from './task.js';
import { MAX_ARGS, taskId, value } from './fields.js';

/** Members in one group: a driver closes a group at this size (a larger batch is several groups). */
export const MAX_GROUP = 1024;
/** Below this many members a turn's tasks of one function travel as plain submits (the sequential path is untouched). */
export const MIN_GROUP = 4;

const member = int(0, MAX_GROUP - 1);
const members = arr(member, MAX_GROUP);
/** Each member's inline argument values, in member order. */
const memberArgs = arr(arr(value, MAX_ARGS), MAX_GROUP);
const runMs = numIn(0, 366 * 24 * 3600 * 1000);
/** The node's executor slot a member ran on (the dashboard's timeline rows; `started`'s `ex`). */
const slot = int(0, 4096);
/** A failed member: its slot when it ran on one, and its run time when its executor measured one (a thrown task). */
const memberFailures = arr(obj({ i: member, failure: failureCheck, ex: opt(slot), ms: opt(runMs) }), MAX_GROUP);

export const groupMessages = {
  // -- driver -> coordinator ---------------------------------------------------
  /**
   * A group: `spec` is member 0's spec with `args: []`, `nested: []`, `numReturns: 1` (the template of every
   * member); `args[i]` are member i's inline argument values. Sent again after a resume (its owner keeps the
   * group until every member's value came): the coordinator that has it answers with what finished.
   */
  submitGroup: obj({ t: lit('submitGroup'), spec: taskSpecCheck, first: int(0, 2 ** 31), args: memberArgs }),
  /** The owner dropped its handles to these members: their values go (as `release` does for objects). */
  groupRelease: obj({ t: lit('groupRelease'), g: taskId, idx: members }),
  /**
   * These members leave the group (their refs escape: an argument, a nested ref, a borrow, a cancel): the
   * coordinator makes each an ordinary task and object record, the driver holding its output once; from then on
   * the driver uses `subscribe`, `release`, `cancel` on the member's object id.
   */
  materialize: obj({ t: lit('materialize'), g: taskId, idx: members }),

  // -- coordinator -> driver ---------------------------------------------------
  /**
   * Members that ended: `ok[k]`'s value is `v[k]` (inline bytes); `failed` threw or were lost past their
   * retries; `moved` were materialized by the coordinator (a result too large to travel inline, stored on the
   * node that ran it): read them as ordinary objects.
   */
  groupReady: obj({
    t: lit('groupReady'),
    g: taskId,
    ok: members,
    v: arr(value, MAX_GROUP),
    failed: opt(memberFailures),
    moved: opt(members),
  }),

  // -- coordinator -> node -----------------------------------------------------
  /**
   * A slice of a group to run: members `idx` (args `args[k]` for member `idx[k]`), all at attempt `attempt`.
   * `s` names the slice (unique within the group): the node's reports carry it.
   */
  assignGroup: obj({
    t: lit('assignGroup'),
    spec: taskSpecCheck,
    first: int(0, 2 ** 31),
    s: int(0),
    attempt: int(0, 1_000_000),
    idx: members,
    args: memberArgs,
    fn: opt(fnSource),
  }),
  /** Stop the members of group `g` this node holds (its job ended, or they were cancelled): no report is owed. */
  cancelGroup: obj({ t: lit('cancelGroup'), g: taskId, idx: opt(members) }),

  // -- node -> coordinator -----------------------------------------------------
  /**
   * Members of slice `s` that ended: `ok[k]` returned `results[k]` after `ms[k]` ms on executor slot `ex[k]`
   * (-1 or absent: not known; when present, one a member); `failed` threw (the coordinator retries them when the spec
   * says), each with its slot when it ran and its run time when measured (absent: a crash, not known). Several
   * reports may cover one slice; each member once.
   */
  groupDone: obj({
    t: lit('groupDone'),
    g: taskId,
    s: int(0),
    ok: members,
    results: arr(resultCheck as Check<TaskResult>, MAX_GROUP),
    ms: arr(runMs, MAX_GROUP),
    ex: opt(arr(int(-1, 4096), MAX_GROUP)),
    failed: opt(memberFailures),
  }),
  /** Members of slice `s` the node will not start (it pauses, or was asked back): placed again, same attempt. */
  /** `noSource`: the slice came without its function's source, which the node does not have (a `forget` crossed it). */
  groupHandBack: obj({ t: lit('groupHandBack'), g: taskId, s: int(0), idx: members, noSource: opt(bool) }),
  /**
   * Members of slice `s` still running REPORT_AFTER_MS after their dispatch (shared/node/start-reports.ts, as a plain
   * task's `started`): lost with the node, they spent a run; the slice's others it never started spend none.
   */
  groupStarted: obj({ t: lit('groupStarted'), g: taskId, s: int(0), idx: members }),
  /**
   * Members of slice `s` that call out (submit, put, get, wait, ask: what a plain task says under its own id): the
   * coordinator makes each the ordinary task it would have been, assigned to this node (materialized; its owner
   * told it moved), before the messages that follow in the frame. Their children then name a parent on record, and
   * a member waiting in get/wait gives its CPU back as a plain task does (`blocked`). Their ends still come in the
   * slice's groupDone.
   */
  groupCallOut: obj({ t: lit('groupCallOut'), g: taskId, s: int(0), idx: members }),
} as const;
