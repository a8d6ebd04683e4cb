// Tasks ended from outside their run: a cancel, the loss of their node, the end of their job.
// The task manager (tasks.ts) keeps the lifecycle; these paths only call it and the actor manager.
import { failureOf } from '../../shared/errors.js';
import { taskOfObject, type ObjectId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { ActorManager } from '../actors/actors.js';
import { depsOf } from '../lineage/lineage.js';
import type { Gcs } from '../gcs/gcs.js';
import { TERMINAL, type JobRecord, type NodeRecord, type TaskRecord } from '../gcs/tables.js';
import type { ObjectDirectory } from '../objects/directory.js';
import type { Scheduler } from './scheduler.js';
import type { TaskManager } from './tasks.js';
import type { Session } from '../session.js';
import { actorGone, cancelledFailure, retried, retriesLeft } from './task-failures.js';
import * as nodeLoad from '../nodes/load.js';

export class TaskEnds {
  /** A job ended: its task groups go too (coordinator/groups; `forget`: nothing is said to the nodes; `owner`: its driver, still connected). */
  onJobEnd: (job: JobRecord, forget: boolean, owner: Session | null) => void = () => {};

  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    private readonly scheduler: Scheduler,
    private readonly tasks: TaskManager,
    private readonly actors: ActorManager,
  ) {}

  /** Cancels the task making `id`. Queued: it never runs. Running: its node stops it. */
  cancel(id: ObjectId, force: boolean): void {
    const t = this.gcs.taskTable.get(taskOfObject(id));
    if (!t || TERMINAL.has(t.state)) return;
    if (t.replicas) return this.tasks.finishFailed(t, cancelledFailure(t)); // its replicas are stopped
    if (t.state === 'assigned' || t.state === 'running') {
      // The node stops it and reports it failed with TASK_CANCELLED; a direct task not there yet ends so when it comes.
      t.cancelAsked = true;
      t.node!.session.send({ t: 'cancelTask', taskId: t.spec.taskId, force, attempt: t.spec.attempt });
      return;
    }
    this.tasks.finishFailed(t, cancelledFailure(t));
  }

  /**
   * Its node refused the task its driver sent it (`unplaced`): the coordinator recorded the node as holding the
   * function's source the driver's frame carried (tasks.ts submit), but a node keeps nothing of a frame it refuses: the
   * next assign of it there carries the source, else the node runs it with none ("executor has no source", a TaskError
   * within ms: the flake of session 27). Then placed again, as a hand-back.
   */
  unplaced(t: TaskRecord): void {
    if (t.node) nodeLoad.maybeNotSent(t.node, t.spec.fnId);
    this.handBack(t);
  }

  /** Its node gave it back unstarted (`unplaced`, `handBack`): placed again, unless its cancel was sent there (then it ends so). */
  handBack(t: TaskRecord): void {
    if (t.cancelAsked) this.tasks.finishFailed(t, cancelledFailure(t));
    else this.tasks.handBack(t);
  }

  /**
   * Node `n` said it leaves (`leaving`): it handed back what it had queued and starts nothing more, so what it still
   * holds that it never reported `started` (sent to it after it read its last frame, or dispatched too short a while
   * ago to be reported: its executors are stopped) is placed again now, as a hand-back, not at its close event
   * (seconds on a starved peer). An actor's calls and creation stay for its loss (the actor goes with the node).
   */
  leaving(n: NodeRecord): number {
    let back = 0;
    for (const t of [...n.tasks]) {
      if (t.state !== 'assigned' || t.spec.actor) continue;
      this.handBack(t);
      back++;
    }
    return back;
  }

  /** A node is gone: its tasks go back to the queue, within their retry budget. */
  nodeLost(n: NodeRecord): void {
    this.actors.nodeLost(n);
    for (const t of [...n.tasks]) {
      this.tasks.unplace(t);
      if (TERMINAL.has(t.state)) continue;
      if (t.spec.actor?.kind === 'create') {
        // An actor being created there: maxRestarts applies to its creation too.
        const why = `its node ${n.id} was lost while it was being created`;
        if (!this.actors.creationLost(t, why))
          this.tasks.finishFailed(t, { ...actorGone(t.spec), message: `actor ${t.spec.name} ${t.spec.taskId.slice(0, 12)} died: ${why}` });
        continue;
      }
      // Never reported `started` (start-reports.ts): it waited in the node's queue, not a run the task spent.
      this.lost(t, n.id, n.link !== undefined ? 'link' : t.state === 'assigned' ? 'unstarted' : undefined);
    }
  }

  /**
   * Task `t`'s run on node `node` is lost with it: queued again as its next attempt within maxRetries, else failed.
   * `spared` (not counted against maxRetries, task-failures.ts): `link`, the node was another coordinator's agent;
   * `unstarted`, the node never started it.
   */
  lost(t: TaskRecord, node: NodeRecord['id'], spared?: 'link' | 'unstarted'): void {
    if (spared) t.sparedLosses = (t.sparedLosses ?? 0) + 1;
    if (t.cancelAsked) return this.tasks.finishFailed(t, cancelledFailure(t)); // cancelled while there: not run again
    if (retriesLeft(t)) {
      t.spec = retried(t.spec);
      this.gcs.stats.tasksRetried++;
      const why = spared === 'unstarted' ? ', before it started: not counted' : '';
      this.gcs.event('task-requeued', `task ${t.spec.name} re-queued after node ${node} was lost${why} (attempt ${t.spec.attempt})`, {
        task: t.spec.taskId,
        node,
        job: t.spec.jobId,
      });
      this.scheduler.enqueue(t, true);
    } else {
      this.tasks.finishFailed(t, {
        ...failureOf('NODE_LOST', t.spec.taskId, t.spec.name, new Error(`node ${node} was lost and the task has no retries left`)),
        name: 'NodeLostError',
      });
    }
  }

  /**
   * A job ended: its unfinished tasks are cancelled and its objects freed.
   * `forget` (a job let go of, issue 15: another coordinator holds its lease):
   * the records go without a word to the nodes (no `cancelTask`, `free` or
   * `killActor`): what runs and what they hold is the new owner's to use or end.
   */
  endJob(jobId: TaskSpec['jobId'], forget = false, owner: Session | null = null): void {
    const job = this.gcs.jobs.get(jobId);
    if (!job) return;
    this.onJobEnd(job, forget, owner);
    // Detached actors live on: their creation tasks, handles and constructor arguments stay (for restarts).
    const detached = this.actors.endJob(jobId, !forget);
    const keep = new Set<ObjectId>();
    for (const id of detached) {
      const spec = this.gcs.tasks.get(id)?.spec;
      keep.add(ActorManager.creationObject(id));
      if (spec) for (const d of [...depsOf(spec), ...spec.nested]) keep.add(d);
    }
    for (const t of [...job.tasks]) {
      if (detached.has(t.spec.taskId)) continue;
      if (t.node && !TERMINAL.has(t.state) && !forget) t.node.session.send({ t: 'cancelTask', taskId: t.spec.taskId, force: true, attempt: t.spec.attempt });
      if (!TERMINAL.has(t.state)) this.tasks.finishFailed(t, cancelledFailure(t));
    }
    for (const x of job.objects.values()) {
      const id = x.id;
      const o = this.dir.get(id);
      if (!o || keep.has(id)) continue;
      if (forget) this.dir.detachCopies(o);
      this.dir.free(o);
    }
    for (const t of [...job.tasks]) if (!detached.has(t.spec.taskId)) this.tasks.dropLineage(t);
  }
}
