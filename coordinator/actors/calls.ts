// An actor's call queues (issue 5): each caller's calls wait in the order
// submitted and go to the actor's node once ready and the actor is alive;
// every dispatched call joins the method log (and, for an actor that may
// restart, the replay log, holding its arguments: issue 6).
import { Fifo, keepTail } from '../../shared/fifo.js';
import type { TaskId } from '../../shared/ids.js';
import { TERMINAL, type TaskRecord } from '../gcs/tables.js';
import type { ActorHooks, ActorRecord } from './actor-record.js';
import { restartable } from './restart.js';

/**
 * Past this many entries the in-memory method log keeps only its tail (checkpoints come with issue 6),
 * cut in steps (keepTail): cutting one entry per call moved the whole log each time (issue 14).
 */
export const LOG_CAP = 10_000;

/** A submitted call takes its place at the end of its caller's queue. */
export function queueCall(a: ActorRecord, t: TaskRecord): void {
  const caller = t.spec.parentId;
  let q = a.callers.get(caller);
  if (!q) a.callers.set(caller, (q = new Fifo()));
  q.push(t);
}

/** Dispatches the ready calls at the head of `caller`'s queue, in order, while the actor is alive. */
export function pump(a: ActorRecord, caller: TaskId, hooks: ActorHooks): void {
  const q = a.callers.get(caller);
  if (!q) return;
  for (let head = q.peek(); head !== undefined; head = q.peek()) {
    if (TERMINAL.has(head.state)) {
      q.shift();
      continue;
    }
    if (head.state !== 'queued' || a.state !== 'alive' || !a.node) break;
    q.shift();
    a.inflight.add(head);
    a.calls++;
    a.log.push(head.spec.taskId);
    keepTail(a.log, LOG_CAP);
    if (restartable(a)) {
      a.replay.push(head.spec);
      hooks.holdArgs(head.spec, 1);
    }
    hooks.dispatch(head, a.node);
  }
  if (q.length === 0) a.callers.delete(caller);
}
