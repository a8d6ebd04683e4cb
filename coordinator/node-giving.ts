// A node's messages about what it can take and what it gives back: its capacity (a tab paused or resumed), tasks
// handed back unstarted, and its `leaving` (session 31). Split out of handlers.ts, whose table names them.
import { nodeOf, type Handler } from './handler-kit.js';
import { maybeNotSent } from './nodes/load.js';

/** Browser nodes (issue 3): pause, executor count, and re-announcing after a reload. */
export const capacity: Handler<'capacity'> = (c, s, m) => {
  const n = nodeOf(c, s);
  if (!n) return;
  // A paused node offers no CPU: the scheduler stops placing work there.
  c.membership.capacity(n, m);
  c.scheduler.touch(n);
};

export const handBack: Handler<'handBack'> = (c, s, m) => {
  for (const { taskId, attempt, noSource } of m.tasks) {
    const t = c.tasks.ownedBy(s, taskId, attempt);
    // The node says it holds the task, not started, and has let it go: `running` too, when the executor it
    // started on was killed (a force-cancelled batch mate) and it went back to the node's queue (issue 14).
    if (typeof t === 'string' || (t.state !== 'assigned' && t.state !== 'running')) continue;
    // It came without its function's source, which the node no longer had: its next assign there carries it.
    if (noSource && t.node) maybeNotSent(t.node, t.spec.fnId);
    c.ends.handBack(t);
  }
};

/** It leaves on purpose: no more work there from now, and what it has not started goes back at once (task-ends.ts). */
export const leaving: Handler<'leaving'> = (c, s) => {
  const n = nodeOf(c, s);
  if (!n || s.leaving) return;
  s.leaving = true;
  c.scheduler.removeNode(n);
  c.leases.nodeLeft(n); // its drivers stop sending it tasks straight
  const back = c.ends.leaving(n);
  c.gcs.event('node-leaving', `node ${n.id} (${n.name}) is leaving; ${back} task(s) it had not started placed again`, { node: n.id });
};
