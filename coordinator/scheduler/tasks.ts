// Task lifecycle in the GCS (ARCHITECTURE.md "A task's life"):
// waiting-args -> queued -> assigned -> running -> finished | failed | cancelled.
// A lost node sends its tasks back to queued (attempt + 1, up to maxRetries).
import type { Failure } from '../../shared/errors.js';
import { isPutObject, returnObjectId, taskOfObject, type TaskId } from '../../shared/ids.js';
import { actorLiveCpu, type MsgOf, type TaskResult, type TaskSpec } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import { TERMINAL, type NodeRecord, type ObjectRecord, type TaskRecord } from '../gcs/tables.js';
import type { Holder, ObjectDirectory } from '../objects/directory.js';
import type { Session } from '../session.js';
import type { Scheduler } from './scheduler.js';
import * as nodeLoad from '../nodes/load.js';
import { ActorManager } from '../actors/actors.js';
import { isReplica, type Verifier } from '../verify/verifier.js';
import { depsOf, Lineage } from '../lineage/lineage.js';
import { cancelledFailure, lostFailure, placeOnlyCpu, retried, retriesLeft } from './task-failures.js';
import { admit, type Looked } from './task-submit.js';
import { countRun, failOutputs, inlineArgs, storeResults } from './task-values.js';
import { countEnd, noteFailure } from '../jobs/job-tasks.js';
import { shortcutTag } from './shortcuts.js';

export class TaskManager {
  /** The lineage of finished tasks, and rebuilding lost objects from it (issue 6). */
  private readonly lineage: Lineage;
  /** Told of every placement (node honesty, issue 8: what a node may report on). */
  onPlaced: (spec: TaskSpec, n: NodeRecord) => void = () => {};
  /** A task went to `n` with a result shortcut's tag (its driver may get a lease on `n`: direct-leases.ts). */
  onTagged: (t: TaskRecord, n: NodeRecord) => void = () => {};
  /** A task ended, its outputs settled (coordinator/mesh reports a guest task's end from here, issue 15). */
  onEnded: (t: TaskRecord) => void = () => {};
  /** A task our node handed back that another coordinator asked back (coordinator/mesh/give-back.ts): true when it went there. */
  reclaimed: (t: TaskRecord) => boolean = () => false;
  /** Runtime env artifacts have no lineage: their registry asks a holder of the bytes instead (issue 16). */
  artifactLost: (o: ObjectRecord, why: string) => boolean = () => false;

  /** The actor manager and the verifier are wired by coordinator.ts (hooks in task-wiring.ts). */
  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    private readonly scheduler: Scheduler,
    private readonly actors: ActorManager,
    private readonly verifier: Verifier,
  ) {
    this.lineage = new Lineage(gcs, dir, { ready: (t) => this.ready(t), fail: (t, f) => this.finishFailed(t, f) });
  }

  /**
   * Records a submitted task. `from` holds its return objects. With `localNode` the node already runs it (bottom-up scheduling) and it is recorded as assigned
   * there. Returns an error text when the submission is refused.
   */
  submit(spec: TaskSpec, from: Holder, localNode: NodeRecord | null, looked?: Looked): string | null {
    const r = admit(this.gcs, this.dir, this.actors, spec, from, looked);
    if (typeof r === 'string' || r === null) return r;
    const t = r.task;
    if (r.failure) {
      this.finishFailed(t, r.failure);
    } else if (localNode && spec.verify && !spec.actor && t.missing === 0) {
      // Run bottom-up already: that run is the first replica.
      nodeLoad.sentFunction(localNode, spec.fnId);
      this.verifier.start(t, localNode, (r, n) => {
        r.state = 'assigned'; // the first replica
        this.placeOn(r, n);
      });
    } else if (localNode) {
      t.state = 'assigned';
      this.placeOn(t, localNode);
      nodeLoad.sentFunction(localNode, spec.fnId);
    } else if (t.missing === 0) this.ready(t);
    return null;
  }

  /**
   * Records a driver's task that it sent straight to a node which left before this submission came (direct-leases.ts): it may have run there, so that run
   * counts as lost (`lost`: re-queued as its next attempt, or failed without retries left). Its arguments are inline: nothing to wait for.
   */
  submitLost(spec: TaskSpec, from: Session, looked: Looked | undefined, lost: (t: TaskRecord) => void): string | null {
    const r = admit(this.gcs, this.dir, this.actors, spec, from, looked);
    if (typeof r === 'string' || r === null) return r;
    if (r.failure) this.finishFailed(r.task, r.failure);
    else lost(r.task);
    return null;
  }

  /** A finished task keeps its arguments (and nested refs) while its outputs live: its lineage. */
  holdLineage(t: TaskRecord): void {
    this.lineage.hold(t);
  }

  /** A task's outputs are all gone, or its job ended: its lineage (and what it held) goes. */
  dropLineage(t: TaskRecord): void {
    this.lineage.drop(t);
  }

  /** An object lost its last copy: rebuilt from its lineage when it can be (coordinator/lineage/). */
  objectLost(o: ObjectRecord, why: string): void {
    if (o.state === 'ready' && !o.v && this.artifactLost(o, why)) return;
    this.lineage.objectLost(o, why);
  }

  /** An unfinished task recovered after a restart: it waits for its arguments, then runs again. */
  resume(t: TaskRecord): void {
    this.holdLineage(t);
    for (const id of depsOf(t.spec)) {
      const o = this.dir.get(id);
      if (!o) return this.finishFailed(t, lostFailure(id, t.spec));
      if (o.state === 'pending') {
        t.missing++;
        this.dir.awaitedBy(o, t);
      } else if (o.state === 'failed') return this.finishFailed(t, o.failure!);
    }
    if (t.missing === 0) this.ready(t);
  }

  /** Arguments ready: a task goes to the scheduler, an actor call to its actor. */
  private ready(t: TaskRecord): void {
    if (t.spec.verify && !t.spec.actor) this.verifier.start(t);
    else if (t.spec.actor?.kind === 'call') this.actors.callReady(t);
    else this.scheduler.enqueue(t);
  }

  /** An argument of these tasks became ready or failed. */
  argSettled(o: ObjectRecord, deps: TaskRecord[]): void {
    for (const t of deps) {
      if (t.state !== 'waiting-args') continue;
      if (o.state === 'failed') this.finishFailed(t, o.failure!);
      else if (--t.missing === 0) this.ready(t);
    }
  }

  /** An actor's creation waited for its name's mesh-wide claim (counted as a missing argument): it is claimed. */
  nameClaimed(t: TaskRecord): void {
    if (t.state === 'waiting-args' && --t.missing === 0) this.ready(t);
  }

  /** Assignment by the scheduler: the node is told; its fns ride along the first time. */
  assign(t: TaskRecord, n: NodeRecord): void {
    t.state = 'assigned';
    this.placeOn(t, n);
    const inline = inlineArgs(this.dir, t.spec);
    let fn;
    if (t.spec.actor?.kind !== 'call' && !n.functions?.has(t.spec.fnId)) {
      const f = this.gcs.functions.get(t.spec.fnId)!;
      fn = { fnId: f.fnId, kind: f.kind, name: f.name, source: f.source, env: f.env };
      nodeLoad.sentFunction(n, t.spec.fnId);
    }
    const sc = shortcutTag(this.gcs, t, n);
    // `sc` only when there is one: a node that did not say `shortcut` refuses the field.
    n.session.send(sc === undefined ? { t: 'assign', spec: t.spec, inline, fn } : { t: 'assign', spec: t.spec, inline, fn, sc });
    if (sc !== undefined) this.onTagged(t, n);
  }

  private placeOn(t: TaskRecord, n: NodeRecord): void {
    t.node = n;
    t.ranOn = n.id;
    nodeLoad.place(n, t);
    if (t.replicas) this.verifier.placed(t, n);
    this.onPlaced(t.spec, n);
  }

  unplace(t: TaskRecord): void {
    if (t.state === 'queued') this.scheduler.left(t);
    const n = t.node;
    if (!n) return;
    if (t.spec.actor?.kind === 'create' && t.state === 'finished') {
      nodeLoad.actorHeld(n, actorLiveCpu(t.spec), placeOnlyCpu(t.spec), -1); // its placement CPU was given back at creation; charged off below
    }
    if (t.blocked) this.setBlocked(t, false);
    nodeLoad.unplace(n, t);
    t.node = null;
    this.scheduler.soon();
  }

  /** An actor that outlived its job's coordinator is back on node `n` (issue 15): its creation holds there what it held before. */
  rehost(t: TaskRecord, n: NodeRecord): void {
    t.node = n;
    t.ranOn = n.id;
    nodeLoad.place(n, t);
    nodeLoad.actorHeld(n, actorLiveCpu(t.spec), placeOnlyCpu(t.spec), 1);
  }

  /** A constructor in flight when its job's coordinator stopped returned on `n`, whose process says it hosts the actor (issue 15): as if `n` had reported it. */
  constructedOn(t: TaskRecord, n: NodeRecord, result: TaskResult): void {
    t.state = 'running';
    this.placeOn(t, n);
    this.completeDone(t, { t: 'done', taskId: t.spec.taskId, attempt: t.spec.attempt, ms: 0, results: [result] }, n.session);
  }

  /** A node gives back a task it has not started (it is pausing, or work stealing asked): it goes to the front of the queue. */
  handBack(t: TaskRecord): void {
    if (isReplica(t)) this.verifier.handedBack(t);
    // From a link (another coordinator): our own nodes went idle while it held it (rebalance.ts); not to a link again.
    if (t.node?.link !== undefined) this.scheduler.backFromLink(t, t.node);
    this.unplace(t);
    t.startedAt = 0;
    t.executor = undefined;
    if (this.reclaimed(t)) return;
    this.scheduler.enqueue(t, true);
  }

  /** The node that reports on a task must be the one it is assigned to, for this attempt. */
  ownedBy(s: Session, taskId: TaskId, attempt: number): TaskRecord | string {
    const t = this.gcs.tasks.get(taskId);
    if (!t) return `unknown task ${taskId}`;
    if (t.replicas) return this.verifier.replicaOn(t, s, attempt) ?? `task ${taskId}: no replica of it runs on this node at attempt ${attempt}`;
    if (!t.node || t.node.session !== s) return `task ${taskId} is not assigned to this node`;
    if (t.spec.attempt !== attempt) return `task ${taskId}: attempt ${attempt} is not the current one (${t.spec.attempt})`;
    return t;
  }

  /** The node says the task runs on its executor slot `executor`; it started `agoMs` ago (never before its submission). */
  started(t: TaskRecord, executor?: number, agoMs = 0): void {
    const at = agoMs > 0 ? Math.max(t.submittedAt, Date.now() - agoMs) : Date.now();
    if (isReplica(t)) this.verifier.started(t, at);
    if (t.state === 'assigned') {
      t.state = 'running';
      t.startedAt = at;
      t.executor = executor;
    }
  }

  /** A task ended after running `ms`: if still assigned (no `started` for runs under 5 ms, node/start-reports.ts), it ran from `ms` ago. */
  ran(t: TaskRecord, ms: number, executor?: number): void {
    if (t.state === 'assigned') this.started(t, executor, ms);
  }

  /** A task waiting in get/wait does not use its CPU: others may (no deadlock through nesting). */
  setBlocked(t: TaskRecord, blocked: boolean): void {
    if (!t.node || t.blocked === blocked) return;
    t.blocked = blocked;
    nodeLoad.block(t.node, t.spec.resources.cpu ?? 0, blocked);
    if (blocked) this.scheduler.soon();
  }

  done(t: TaskRecord, m: MsgOf<'done'>, s: Session): string | null {
    if (m.results.length !== t.spec.numReturns) return `task ${t.spec.taskId} returned ${m.results.length} values, expected ${t.spec.numReturns}`;
    const f = this.gcs.functions.get(t.spec.fnId);
    if (f) countRun(f, m.ms);
    this.ran(t, m.ms, m.ex);
    if (isReplica(t)) return this.verifier.report(t, { done: m }, s);
    // Its result went straight to the driver (scheduler/shortcuts.ts): the driver is sent it only if it does not say it took it.
    if (m.sc && !t.spec.verify && !t.spec.actor) {
      const d = this.gcs.jobs.get(t.spec.jobId)?.driver;
      if (d) this.dir.shortcut(returnObjectId(t.spec.taskId, 0), d);
    }
    this.completeDone(t, m, s);
    return null;
  }

  /** Records a task's results; `s` holds its stored outputs. */
  completeDone(t: TaskRecord, m: MsgOf<'done'>, s: Session): void {
    if (t.node) nodeLoad.taskDone(t.node);
    this.end(t, 'finished');
    storeResults(this.dir, t, m, s);
    this.onEnded(t);
  }

  /** A node reports a failure: with retryExceptions a throw is retried within maxRetries; a crashed executor is a system failure, retried like a lost node. */
  reportedFailed(t: TaskRecord, failure: Failure): void {
    if (isReplica(t)) return void (t.node && this.verifier.report(t, { failure }, t.node.session));
    const s = t.spec;
    if (s.actor?.kind === 'create') {
      // A live actor's worker died, or its constructor's did: it restarts within maxRestarts.
      if (t.state === 'finished') return this.actors.workerDied(s.taskId, failure.message);
      if (failure.code === 'ACTOR_DIED' && !TERMINAL.has(t.state)) {
        this.unplace(t);
        if (this.actors.creationLost(t, failure.message)) return;
      }
      return this.finishFailed(t, failure);
    }
    // NODE_LOST comes from a coordinator of the mesh that could not run it or kept no result (coordinator/mesh): as a lost node's.
    const retry = (failure.code === 'TASK_ERROR' && s.retryExceptions) || failure.code === 'WORKER_CRASHED' || failure.code === 'NODE_LOST';
    if (retry && t.cancelAsked) return this.finishFailed(t, cancelledFailure(t)); // its cancel was sent: not run again (as TaskEnds.lost)
    if (retry && retriesLeft(t) && !s.actor) {
      this.unplace(t);
      t.spec = retried(s);
      this.gcs.stats.tasksRetried++;
      this.gcs.event(
        'task-retried',
        `task ${s.name} ${failure.code === 'NODE_LOST' ? 'was lost' : `threw ${failure.name}`}: ${failure.message.slice(0, 200)}; retrying (attempt ${s.attempt + 1} of ${s.maxRetries})`,
        { task: s.taskId, job: s.jobId },
      );
      this.scheduler.enqueue(t);
      return;
    }
    this.finishFailed(t, failure);
  }

  /** The task failed (threw, was cancelled, timed out): every output carries the failure. */
  finishFailed(t: TaskRecord, failure: Failure): void {
    if (TERMINAL.has(t.state)) return;
    if (isReplica(t)) return this.verifier.replicaLost(t);
    this.end(t, failure.code === 'TASK_CANCELLED' ? 'cancelled' : 'failed');
    const job = failure.code === 'TASK_CANCELLED' ? undefined : this.gcs.jobs.get(t.spec.jobId);
    if (job) noteFailure(job, failure);
    failOutputs(this.dir, t, failure);
    this.onEnded(t);
  }

  private end(t: TaskRecord, state: 'finished' | 'failed' | 'cancelled'): void {
    if (t.replicas) this.verifier.close(t);
    const actor = t.spec.actor;
    if (actor?.kind === 'create' && state === 'finished' && t.node) {
      // It keeps its resources while it lives, but a default actor's placement CPU (Ray: 1 to place, 0 alive).
      nodeLoad.actorHeld(t.node, actorLiveCpu(t.spec), placeOnlyCpu(t.spec), 1);
      if (placeOnlyCpu(t.spec) > 0) this.scheduler.soon();
      this.actors.created(t, t.node);
    } else this.unplace(t);
    if (actor?.kind === 'call') this.actors.callEnded(t);
    else if (actor?.kind === 'create' && state !== 'finished') this.actors.constructorFailed(t.spec.taskId);
    t.state = state;
    t.endedAt = Date.now();
    const job = this.gcs.jobs.get(t.spec.jobId);
    const st = this.gcs.stats;
    if (state === 'finished') st.tasksFinished++;
    else if (state === 'failed') st.tasksFailed++;
    else st.tasksCancelled++;
    if (job) countEnd(job, state);
    // No row for the end state: the outputs' rows (ready or failed) say it.
    // A finished task keeps its arguments while its outputs live: lineage, to rebuild them (issue 6).
    // Actor calls are not re-run to rebuild their outputs (the actor's log replays them), so they keep nothing.
    if (state !== 'finished' || t.spec.actor?.kind === 'call') this.lineage.release(t);
    else this.releaseActorHandles(t);
    if (t.liveOutputs === 0) this.lineage.drop(t);
  }

  /**
   * A finished task kept for lineage holds its arguments, but not the actors whose handles it was given: re-running it could not bring an actor's state back
   * anyway, and an unnamed actor must stop once its last handle goes (issue 13).
   */
  private releaseActorHandles(t: TaskRecord): void {
    if (!t.holdsArgs || t.spec.nested.length === 0) return;
    const handles = t.spec.nested.filter((id) => !isPutObject(id) && id === ActorManager.creationObject(taskOfObject(id)) && this.actors.has(taskOfObject(id)));
    if (handles.length === 0) return;
    const gone = new Set(handles);
    t.spec = { ...t.spec, nested: t.spec.nested.filter((id) => !gone.has(id)) };
    for (const id of handles) this.dir.decRef(id);
  }

  /** One of a task's outputs was freed. */
  outputFreed(o: ObjectRecord): void {
    if (isPutObject(o.id)) return;
    const t = o.creator ? this.gcs.taskTable.at(o.creator) : this.gcs.taskTable.get(taskOfObject(o.id));
    if (!t) return;
    if (t.spec.actor?.kind === 'create') this.actors.handlesGone(t.spec.taskId);
    if (--t.liveOutputs <= 0 && TERMINAL.has(t.state)) this.lineage.drop(t);
  }
}
