// The coordinator's handlers of task groups' messages (shared/protocol/group.ts; handlers.ts's table lists
// them): they check who sends what and route to the group manager. With groups off (the `groups` option) every
// group message is refused.
import type { Managers } from '../managers.js';
import type { Session } from '../session.js';
import type { NodeRecord } from '../gcs/tables.js';
import type { Refusal } from './group-reports.js';
import type { MsgOf } from '../../shared/protocol/messages.js';

/** A message handler (handlers.ts's table type; not imported from there: no import circle). */
type Handler<K extends 'submitGroup' | 'groupRelease' | 'materialize' | 'groupDone' | 'groupHandBack' | 'groupStarted' | 'groupCallOut'> = (
  c: Managers,
  s: Session,
  m: MsgOf<K>,
) => string | null | void;

const OFF = 'task groups are off on this coordinator (it did not say `groups` in its welcome): submit each task alone';

function nodeOf(c: Managers, s: Session): NodeRecord | undefined {
  return s.role === 'node' && s.nodeId ? c.membership.nodeOf(s) : undefined;
}

/** A node's report refused: a lie is an offence in the trust table (as `done` for a task never assigned); else its error text. */
function refused(c: Managers, n: NodeRecord, r: Refusal | null): string | null {
  if (r === null) return null;
  if ('error' in r) return r.error;
  c.trust.offence(n.id, r.lie);
  return null;
}

export const submitGroup: Handler<'submitGroup'> = (c, s, m) => {
  if (!c.groups || !s.groups) return OFF;
  // v1: a driver's root submissions only (design "Which tasks group"); a task's nested calls go one by one.
  if (s.role !== 'driver') return 'only a driver submits task groups';
  const job = s.jobId ? c.gcs.jobs.get(s.jobId) : undefined;
  if (job) {
    const k = job.counts;
    const over = c.limits.tasks(k.submitted - k.finished - k.failed - k.cancelled + m.args.length - 1);
    if (over) return void s.fail(over.code, over.message);
  }
  return c.groups.submit(s, job, m);
};

export const groupRelease: Handler<'groupRelease'> = (c, s, m) => {
  if (!c.groups || s.role !== 'driver') return OFF;
  return c.groups.release(s, m);
};

export const materialize: Handler<'materialize'> = (c, s, m) => {
  if (!c.groups || s.role !== 'driver') return OFF;
  return c.groups.materialize(s, m);
};

export const groupDone: Handler<'groupDone'> = (c, s, m) => {
  const n = nodeOf(c, s);
  if (!c.groups || !n) return OFF;
  c.membership.seen(n);
  return refused(c, n, c.groups.done(n, m));
};

export const groupHandBack: Handler<'groupHandBack'> = (c, s, m) => {
  const n = nodeOf(c, s);
  if (!c.groups || !n) return OFF;
  return refused(c, n, c.groups.handBack(n, m));
};

export const groupStarted: Handler<'groupStarted'> = (c, s, m) => {
  const n = nodeOf(c, s);
  if (!c.groups || !n) return OFF;
  return refused(c, n, c.groups.started(n, m));
};

export const groupCallOut: Handler<'groupCallOut'> = (c, s, m) => {
  const n = nodeOf(c, s);
  if (!c.groups || !n) return OFF;
  return refused(c, n, c.groups.callOut(n, m));
};
