// Lineage (ARCHITECTURE.md "the boxes"; issue 6): a finished task keeps its
// arguments while its outputs live, so that an object whose last copy is lost
// is rebuilt by re-running its creating task with the same ids (recursively
// for lost arguments), within that task's retry budget; otherwise its readers
// get ObjectLostError naming the object and why.
import type { Failure } from '../../shared/errors.js';
import { isPutObject, returnObjectId, taskOfObject, type ObjectId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import { ActorManager } from '../actors/actors.js';
import type { Gcs } from '../gcs/gcs.js';
import { TERMINAL, type ObjectRecord, type TaskRecord } from '../gcs/tables.js';
import type { ObjectDirectory } from '../objects/directory.js';
import { countRerun, forgetTask } from '../jobs/job-tasks.js';
import { argsHeld, argsReleased, awaitsArg, rerun } from '../scheduler/task-states.js';
import { retriesLeft } from '../scheduler/task-failures.js';
import { pinnedGone, pinnedToMissingNode } from '../scheduler/placement-rules.js';

/** The deps of a task that has none (most): one shared frozen list, not a new one at each of the 3-4 asks a task makes (issue 14). */
const NO_DEPS = Object.freeze([]) as readonly ObjectId[];

/**
 * What a task waits for: its ref arguments and, for an actor call, the actor's creation. Read-only: callers
 * iterate, by index on the task path: V8 (Node 20) runs `for...of` over a frozen array (these, a spec's shared
 * empty args and nested ids) in its generic iterator, ~300 ns and ~100 bytes a loop against ~30 ns and none
 * (issue 14, session 14).
 */
export function depsOf(spec: TaskSpec): readonly ObjectId[] {
  let deps: ObjectId[] | null = null;
  const args = spec.args;
  for (let i = 0; i < args.length; i++) {
    const r = args[i].r;
    if (r !== undefined) (deps ??= []).push(r);
  }
  if (spec.actor?.kind === 'call') (deps ??= []).push(ActorManager.creationObject(spec.actor.id));
  return deps ?? NO_DEPS;
}

/** What lineage needs of the task manager: a rebuilt task whose arguments are ready runs; one that cannot runs no more. */
export interface LineageTasks {
  ready(t: TaskRecord): void;
  fail(t: TaskRecord, failure: Failure): void;
}

export class Lineage {
  constructor(
    private readonly gcs: Gcs,
    private readonly dir: ObjectDirectory,
    private readonly tasks: LineageTasks,
  ) {}

  hold(t: TaskRecord): void {
    argsHeld(t);
    const deps = depsOf(t.spec);
    for (let i = 0; i < deps.length; i++) this.dir.addRef(deps[i]);
    const nested = t.spec.nested;
    for (let i = 0; i < nested.length; i++) this.dir.addRef(nested[i]);
  }

  /** Gives up what a task held for its lineage (its arguments and nested refs). */
  release(t: TaskRecord): void {
    if (!argsReleased(t)) return;
    const deps = depsOf(t.spec);
    for (let i = 0; i < deps.length; i++) this.dir.decRef(deps[i]);
    const nested = t.spec.nested;
    for (let i = 0; i < nested.length; i++) this.dir.decRef(nested[i]);
  }

  /** Forgets a task whose outputs are all gone (or whose job ended): its arguments are released. */
  drop(t: TaskRecord): void {
    this.release(t);
    const job = this.gcs.jobs.get(t.spec.jobId);
    this.gcs.dropTask(t.spec.taskId, job);
    if (job) forgetTask(job, t);
  }

  /**
   * An object lost its last copy. If something still needs it, it is rebuilt
   * by re-running its creating task with the same ids (recursively for lost
   * arguments), within that task's retry budget; otherwise readers get
   * ObjectLostError naming the object and why.
   */
  objectLost(o: ObjectRecord, why: string): void {
    if (o.state !== 'ready' || o.v) return;
    if (o.refs <= 0) return this.dir.free(o);
    const creator = this.gcs.tasks.get(taskOfObject(o.id));
    if (!creator) {
      const byDriver = isPutObject(o.id) && o.locations.size === 0 && !this.gcs.tasks.has(taskOfObject(o.id));
      return this.dir.setFailedLost(o, `${why}; ${byDriver ? 'it was put by a driver that is gone' : 'its lineage is gone'}`);
    }
    this.rebuild(creator, o, why);
  }

  private rebuild(t: TaskRecord, o: ObjectRecord, why: string): void {
    if (!TERMINAL.has(t.state) && t.state !== 'finished') {
      // Its task is queued or running again already: the object comes back with it.
      this.dir.setRebuilding(o);
      return;
    }
    if (t.state !== 'finished' || t.spec.actor) {
      return this.dir.setFailedLost(o, `${why}; ${t.spec.actor ? 'actor results are not rebuilt by re-running' : `its task ${t.state}`}`);
    }
    if (!retriesLeft(t)) {
      return this.dir.setFailedLost(o, `${why}; task ${t.spec.name} has spent its ${t.spec.maxRetries} retries`);
    }
    const pinned = pinnedToMissingNode(t, this.gcs);
    if (pinned) {
      // A holder that comes back (a reloaded tab) can still announce it. The reason is worded where the scheduler's is.
      return this.dir.setFailedLost(o, `${why}; its task ${t.spec.name} cannot run again: ${pinnedGone(pinned, this.gcs)}`);
    }
    // Every lost output of the task waits again; copies elsewhere stay readable.
    for (let i = 0; i < t.spec.numReturns; i++) {
      const out = this.dir.get(returnObjectId(t.spec.taskId, i));
      if (out && out.state === 'ready' && !out.v && out.locations.size === 0) this.dir.setRebuilding(out);
    }
    this.dir.setRebuilding(o);
    rerun(t);
    this.gcs.stats.tasksRebuilt++;
    const job = this.gcs.jobs.get(t.spec.jobId);
    if (job) countRerun(job);
    this.gcs.stats.tasksFinished--;
    this.gcs.event('object-rebuilt', `object ${o.id.slice(0, 12)} lost (${why}): re-running task ${t.spec.name} (attempt ${t.spec.attempt})`, {
      object: o.id,
      task: t.spec.taskId,
      job: t.spec.jobId,
    });
    for (const id of depsOf(t.spec)) {
      const dep = this.dir.get(id);
      if (!dep) continue; // held by this task's lineage: cannot be gone
      if (dep.state === 'ready' && !dep.v && dep.locations.size === 0) this.objectLost(dep, `needed to rebuild ${o.id.slice(0, 12)}`);
      if (dep.state === 'pending') {
        awaitsArg(t);
        this.dir.awaitedBy(dep, t);
      } else if (dep.state === 'failed') {
        return this.tasks.fail(t, dep.failure!);
      }
    }
    if (t.missing === 0) this.tasks.ready(t);
  }
}
