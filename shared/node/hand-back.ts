// Tasks a node gives back to the coordinator before they start: all of them when it pauses (issue 3), up to a
// count when the coordinator asks (`giveBack`, issue 14's work stealing). Plain tasks go in one `handBack`, a
// group's members in one `groupHandBack` per slice (groups.ts).
import type { TaskId } from '../ids.js';
import type { LocalTask } from './local-task.js';
import type { AdmissionContext } from './node-context.js';

/** Not started (its arguments resolving, or in the ready queue). */
function waiting(t: LocalTask): boolean {
  return t.state === 'resolving' || t.state === 'ready';
}

/** Paused: the tasks not started yet go back (an actor's calls stay with it). */
export function handBackWaiting(n: AdmissionContext, tasks: Map<TaskId, LocalTask>): number {
  const back: LocalTask[] = [];
  for (const t of tasks.values()) {
    if (!waiting(t)) continue;
    if ('actor' in t.spec && t.spec.actor) continue; // an actor's calls stay with it
    back.push(t);
  }
  return sendBack(n, tasks, back);
}

/**
 * Up to `count` tasks not started go back, the newest first (they would start last); an actor's calls, tasks
 * pinned here (node affinity) and replicas of verified tasks stay. With `ids`, only those of them: another
 * coordinator's tasks asked back through ours, not the newest of any job (issue 14).
 */
export function giveBack(n: AdmissionContext, tasks: Map<TaskId, LocalTask>, count: number, ids?: readonly TaskId[]): number {
  const back: LocalTask[] = [];
  const queued = ids ? ids.flatMap((id) => tasks.get(id) ?? []) : [...tasks.values()];
  for (let i = queued.length - 1; i >= 0 && back.length < count; i--) {
    const t = queued[i];
    if (!waiting(t)) continue;
    if (('actor' in t.spec && t.spec.actor) || typeof t.spec.scheduling === 'object' || t.spec.verify) continue; // replicas: the verifier's
    back.push(t);
  }
  return sendBack(n, tasks, back);
}

function sendBack(n: AdmissionContext, tasks: Map<TaskId, LocalTask>, back: LocalTask[]): number {
  const plain: { taskId: TaskId; attempt: number }[] = [];
  const members: LocalTask[] = [];
  for (const t of back) {
    n.local.remove(t); // out of the ready queue's count at once (stats, heartbeats)
    if (t.member) {
      members.push(t);
      continue;
    }
    t.state = 'ended';
    tasks.delete(t.spec.taskId);
    plain.push({ taskId: t.spec.taskId, attempt: t.spec.attempt });
  }
  if (plain.length) n.send({ t: 'handBack', tasks: plain });
  if (members.length) n.groups.handBack(members);
  return back.length;
}
