// Restarting an actor (issue 6): within maxRestarts its creation task runs
// again elsewhere, restoring its last checkpoint, then the calls since then
// are replayed in order; calls that were running retry within maxTaskRetries.
import { Fifo } from '../../shared/fifo.js';
import type { Gcs } from '../gcs/gcs.js';
import type { TaskRecord } from '../gcs/tables.js';
import { diedFailure, type ActorHooks, type ActorRecord } from './actor-record.js';
import { actorRecreated, callRetried } from '../scheduler/task-states.js';

/** Whether the actor keeps a replay log (it may restart). */
export function restartable(a: ActorRecord): boolean {
  return (a.creation.spec.actor?.maxRestarts ?? 0) > 0;
}

export function restart(a: ActorRecord, why: string, gcs: Gcs, hooks: ActorHooks): void {
  a.restarts++;
  a.state = 'restarting';
  a.node = null;
  const retries = a.creation.spec.actor?.maxTaskRetries ?? 0;
  // Calls that were running: again after the replay (within maxTaskRetries), else they fail.
  const again: TaskRecord[] = [];
  // Calls that were running never finished: the replay leaves them out (one may be what killed the worker).
  const unfinished = new Set([...a.inflight].map((t) => t.spec.taskId));
  for (const t of a.inflight) {
    hooks.release(t);
    if (t.spec.attempt < retries) {
      callRetried(t);
      again.push(t);
    } else hooks.fail(t, diedFailure(t, a, `it was running when the actor's node was lost (${why})`));
  }
  a.inflight.clear();
  // Re-dispatched retries must not run twice; failed ones not at all.
  a.replay = a.replay.filter((s) => {
    if (!unfinished.has(s.taskId)) return true;
    hooks.holdArgs(s, -1);
    return false;
  });
  for (const t of again.reverse()) {
    let q = a.callers.get(t.spec.parentId);
    if (!q) a.callers.set(t.spec.parentId, (q = new Fifo()));
    q.unshift(t);
  }
  hooks.release(a.creation);
  const c = a.creation;
  actorRecreated(c, a.checkpoint);
  gcs.event('actor-restarting', `actor ${a.className} ${a.id.slice(0, 12)} lost (${why}): restart ${a.restarts} of ${c.spec.actor!.maxRestarts}`, {
    job: a.job,
    task: a.id,
  });
  hooks.recreate(c);
}
