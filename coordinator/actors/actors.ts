// Actors in the GCS (issue 5). An actor is created by a task that the
// scheduler places like any other; it then holds its resources on its node
// until it dies. Its method calls skip the scheduler: each caller's calls go
// to the actor's node in the order submitted, once their arguments are ready,
// and every dispatched call is appended to the actor's method log (for
// restarts, issue 6).
import type { Failure } from '../../shared/errors.js';
import { returnObjectId, type JobId, type TaskId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import { TERMINAL, type NodeRecord, type TaskRecord } from '../gcs/tables.js';
import { diedFailure, newActorRecord, type ActorHooks, type ActorRecord } from './actor-record.js';
import { pump, queueCall } from './calls.js';
import { ActorNames, type ClaimOutcome, type MeshNameRegistry, type NameElsewhere } from './names.js';
import { restart, restartable } from './restart.js';
import { nextAttempt, queued } from '../scheduler/task-states.js';

export type { ActorHooks, ActorRecord } from './actor-record.js';

export class ActorManager {
  /** The actors table: only this manager writes it (readonly views through get/has/list). */
  private readonly table = new Map<TaskId, ActorRecord>();
  private readonly names: ActorNames;
  dead = 0;

  constructor(
    private readonly gcs: Gcs,
    private readonly hooks: ActorHooks,
  ) {
    this.names = new ActorNames(gcs, (id) => this.table.get(id));
  }

  get(id: TaskId): Readonly<ActorRecord> | undefined {
    return this.table.get(id);
  }

  has(id: TaskId): boolean {
    return this.table.has(id);
  }

  list(): Readonly<ActorRecord>[] {
    return [...this.table.values()];
  }

  get size(): number {
    return this.table.size;
  }

  /** A creation task was submitted. Returns a failure when the name is taken. */
  register(t: TaskRecord): Failure | null {
    const a = t.spec.actor!;
    const namespace = a.namespace ?? this.namespaceOf(t.spec.jobId);
    const refuse = (name: string, message: string): Failure => ({
      code: 'TASK_ERROR',
      name,
      message,
      stack: '',
      functionName: t.spec.name,
      taskId: t.spec.taskId,
    });
    if (a.detached && !a.name) return refuse('ValueError', `a detached actor needs a name (nothing could reach it once its job ends)`);
    // Names are keyed `namespace\0name` here and in the mesh's table: a NUL inside either would make two names one.
    if (a.name?.includes('\u0000') || namespace.includes('\u0000')) return refuse('ValueError', `an actor's name and namespace cannot hold a NUL character`);
    if (a.name && !this.names.claim(namespace, a.name, t.spec.taskId)) {
      return refuse('ActorNameTakenError', `an actor named '${a.name}' already exists${namespace ? ` in namespace '${namespace}'` : ''}`);
    }
    const rec = newActorRecord(t, namespace);
    this.table.set(t.spec.taskId, rec);
    this.names.claimAcross(rec, (a, outcome, gated) => this.nameClaimed(a, outcome, gated));
    return null;
  }

  /** The mesh's name table (coordinator/mesh/actor-names.ts) while this coordinator is part of a mesh; null after. */
  set meshNames(r: MeshNameRegistry | null) {
    this.names.remote = r;
  }

  /** Whether names are claimed mesh-wide (this coordinator is part of a mesh). */
  get meshWide(): boolean {
    return this.names.remote !== null;
  }

  /** Whether creation `t` waits for its name's mesh-wide claim (task-submit.ts counts it as a missing argument). */
  awaitsName(t: TaskRecord): boolean {
    return this.names.gate(t.spec.taskId);
  }

  /**
   * The mesh-wide claim of `a`'s name ended. Ours: a waiting creation goes on (an actor that died meanwhile gives it back). Another's: the creation fails as on
   * one coordinator; an actor adopted with its job (a takeover) whose name was taken while its coordinator was gone dies, as the name is the other actor's now.
   */
  private nameClaimed(a: Readonly<ActorRecord>, outcome: ClaimOutcome, gated: boolean): void {
    const live = this.table.get(a.id) === a && a.state !== 'dead';
    if ('ours' in outcome) {
      if (!live) this.names.release(a);
      else if (gated) this.hooks.nameClaimed(a.creation);
      return;
    }
    if (!live) return;
    const where =
      'taken' in outcome
        ? `is held by an actor of coordinator ${outcome.taken.url ?? outcome.taken.coordinator}`
        : `could not be claimed in the mesh (Redis: ${outcome.error})`;
    const ns = a.namespace ? ` in namespace '${a.namespace}'` : '';
    if (gated && !TERMINAL.has(a.creation.state)) {
      const name = 'taken' in outcome ? 'ActorNameTakenError' : 'ActorNameUnavailableError';
      const message =
        'taken' in outcome
          ? `an actor named '${a.name}' already exists${ns} (at coordinator ${outcome.taken.url ?? outcome.taken.coordinator})`
          : `the name '${a.name}'${ns} ${where}`;
      this.hooks.fail(a.creation, { code: 'TASK_ERROR', name, message, stack: '', functionName: a.creation.spec.name, taskId: a.id });
    } else if ('taken' in outcome) this.kill(a.id, `its name '${a.name}'${ns} ${where}`);
    else this.gcs.event('actor-name-unclaimed', `actor ${a.className} ${a.id.slice(0, 12)}: its name '${a.name}'${ns} ${where}`, { job: a.job, task: a.id });
  }

  /** Its constructor returned: the actor is up on the node that ran it. */
  created(t: TaskRecord, n: NodeRecord): void {
    const a = this.table.get(t.spec.taskId);
    if (!a || (a.state !== 'pending' && a.state !== 'restarting')) return;
    const restarted = a.state === 'restarting';
    a.state = 'alive';
    a.node = n;
    if (restarted) {
      this.gcs.persistActor(a.id, a.job, n.hostKey, a.restarts);
      // Constructor and restore() ran; now the calls since the checkpoint, in order, before any new one.
      for (const spec of a.replay) this.hooks.replay(spec, n);
      this.gcs.event(
        'actor-restarted',
        `actor ${a.className} ${a.id.slice(0, 12)} restarted on node ${n.id} (restart ${a.restarts}); replaying ${a.replay.length} call(s)${a.checkpoint ? ' after its checkpoint' : ''}`,
        {
          job: a.job,
          node: n.id,
          task: a.id,
        },
      );
      for (const caller of [...a.callers.keys()]) pump(a, caller, this.hooks);
      return;
    }
    this.gcs.persistActor(a.id, a.job, n.hostKey, a.restarts);
    this.gcs.event('actor-started', `actor ${a.className} ${a.id.slice(0, 12)}${a.name ? ` '${a.name}'` : ''} started on node ${n.id}`, {
      job: a.job,
      node: n.id,
      task: a.id,
    });
  }

  /** The constructor threw (or the creation failed): calls fail with its error through their dependency on it. */
  constructorFailed(id: TaskId): void {
    const a = this.table.get(id);
    if (!a || a.state === 'dead') return;
    a.state = 'dead';
    a.diedAt = Date.now();
    a.deathCause = 'its constructor failed';
    this.dead++;
    this.dropName(a);
    this.gcs.dropActor(a.id, a.job, a.detached); // its host was on record from placement
  }

  /** A dead actor's name is free again; a detached one's name no longer holds it. */
  private dropName(a: ActorRecord): void {
    this.names.release(a);
    if (a.detached) this.hooks.unpin(a.id);
  }

  /** A job's namespace for actor names ('' when its driver named none). */
  namespaceOf(job: JobId | undefined): string {
    return this.names.namespaceOf(job);
  }

  /** A call was submitted: it takes its place in its caller's queue. */
  enqueueCall(t: TaskRecord): void {
    const a = this.table.get(t.spec.actor!.id);
    if (a) queueCall(a, t); // else it fails when its dependency on the creation object resolves
  }

  /** A call's arguments (and the actor) are ready. */
  callReady(t: TaskRecord): void {
    const a = this.table.get(t.spec.actor!.id);
    if (!a || a.state === 'dead') {
      this.hooks.fail(t, diedFailure(t, a));
      return;
    }
    queued(t);
    pump(a, t.spec.parentId, this.hooks);
  }

  /** A dispatched call ended. */
  callEnded(t: TaskRecord): void {
    this.table.get(t.spec.actor!.id)?.inflight.delete(t);
  }

  /** Stops an actor: its queued and running calls fail with ActorDiedError; its node is told. */
  kill(id: TaskId, why: string, tellNode = true): void {
    const a = this.table.get(id);
    if (!a || a.state === 'dead') return;
    const node = a.node;
    a.state = 'dead';
    a.diedAt = Date.now();
    a.deathCause = why;
    this.dead++;
    this.dropName(a);
    this.gcs.dropActor(a.id, a.job, a.detached);
    for (const q of a.callers.values()) for (const t of q) if (!TERMINAL.has(t.state)) this.hooks.fail(t, diedFailure(t, a));
    a.callers.clear();
    for (const t of [...a.inflight]) this.hooks.fail(t, diedFailure(t, a));
    a.inflight.clear();
    for (const spec of a.replay) this.hooks.holdArgs(spec, -1);
    a.replay = [];
    if (!TERMINAL.has(a.creation.state)) this.hooks.fail(a.creation, diedFailure(a.creation, a));
    this.hooks.release(a.creation);
    if (node && tellNode) node.session.send({ t: 'killActor', id });
    this.gcs.event('actor-died', `actor ${a.className} ${id.slice(0, 12)} died: ${why}`, { job: a.job, node: node?.id, task: id });
  }

  /** The actor's state after call `after`: the replay log up to it can go. */
  checkpointed(id: TaskId, after: TaskId, state: Uint8Array): void {
    const a = this.table.get(id);
    if (!a || a.state === 'dead' || !restartable(a)) return;
    const i = a.replay.findIndex((s) => s.taskId === after);
    if (i < 0) return;
    for (const spec of a.replay.splice(0, i + 1)) this.hooks.holdArgs(spec, -1);
    a.checkpoint = state;
  }

  /** A node is gone, with its actors: each restarts elsewhere while it has restarts left, else dies. */
  nodeLost(n: NodeRecord): void {
    for (const a of this.table.values()) {
      if (a.node !== n || a.state === 'dead') continue;
      this.lost(a, `its node ${n.id} was lost`);
    }
  }

  /** A live actor's executor died (a crash in a method, or it was terminated): restart or death, with the cause. */
  workerDied(id: TaskId, cause: string): void {
    const a = this.table.get(id);
    if (!a || a.state !== 'alive') return;
    this.lost(a, cause);
  }

  private lost(a: ActorRecord, why: string): void {
    const max = a.creation.spec.actor?.maxRestarts ?? 0;
    if (a.restarts < max) restart(a, why, this.gcs, this.hooks);
    else this.kill(a.id, `${why}${max ? ` and its ${max} restart(s) are spent` : ''}`, false);
  }

  /** Its creation failed for a system reason (its node or executor died while the constructor ran): created again within maxRestarts. False when spent. */
  creationLost(t: TaskRecord, why: string): boolean {
    const a = this.table.get(t.spec.taskId);
    const max = t.spec.actor?.maxRestarts ?? 0;
    if (!a || a.state === 'dead' || a.restarts >= max) return false;
    a.restarts++;
    nextAttempt(t);
    this.gcs.event('actor-restarting', `actor ${a.className} ${a.id.slice(0, 12)} failed while being created (${why}): restart ${a.restarts} of ${max}`, {
      job: a.job,
      task: a.id,
    });
    this.hooks.recreate(t);
    return true;
  }

  /**
   * An actor of a job taken over from a coordinator that died (issue 15): it lives on its node, which has yet to join here. Until it does (`reattach`) its
   * calls wait; false if it cannot be registered (known, or its name taken).
   */
  adopt(creation: TaskRecord, restarts: number): boolean {
    if (this.table.has(creation.spec.taskId) || this.register(creation)) return false;
    const a = this.table.get(creation.spec.taskId)!;
    a.state = 'restarting';
    a.restarts = restarts;
    return true;
  }

  /** Its node joined again, with the actor alive: its calls go there, in order. */
  reattach(id: TaskId, n: NodeRecord): void {
    const a = this.table.get(id);
    if (!a || a.state !== 'restarting' || a.node) return;
    a.state = 'alive';
    a.node = n;
    this.gcs.persistActor(a.id, a.job, n.hostKey, a.restarts);
    this.gcs.event('actor-reattached', `actor ${a.className} ${a.id.slice(0, 12)} lived on through its coordinator's end: back on node ${n.id}`, {
      job: a.job,
      node: n.id,
      task: a.id,
    });
    for (const caller of [...a.callers.keys()]) pump(a, caller, this.hooks);
  }

  /** Its node did not come back in time: lost like an actor on a dead node (restart or death). */
  unclaimed(id: TaskId, why: string): void {
    const a = this.table.get(id);
    if (a?.state === 'restarting' && !a.node && a.creation.state === 'finished') this.lost(a, why);
  }

  /** Every handle is gone (the creation object was freed): an unnamed actor stops, and its record goes. */
  handlesGone(id: TaskId): void {
    const a = this.table.get(id);
    if (!a) return;
    if (a.state !== 'dead') {
      if (a.name) return; // named actors live until killed or their job ends
      this.kill(id, 'all its handles were released');
    }
    this.table.delete(id);
  }

  /** The job ended: its actors stop and are forgotten, but detached ones, which live on. Returns the ids of those. */
  /** `tellNodes` false: the job was let go of (issue 15), its actors live on where they are for the new owner. */
  endJob(job: JobId, tellNodes = true): Set<TaskId> {
    const kept = new Set<TaskId>();
    for (const a of [...this.table.values()]) {
      if (a.job !== job) continue;
      if (a.detached && a.state !== 'dead' && tellNodes) {
        kept.add(a.id);
        this.gcs.persistDetached(a.id, a.job);
        continue;
      }
      if (a.state !== 'dead') this.kill(a.id, tellNodes ? 'its job ended' : 'its job runs at another coordinator now (the actor stays on its node)', tellNodes);
      this.table.delete(a.id);
    }
    return kept;
  }

  lookup(name: string, namespace: string): Readonly<ActorRecord> | undefined {
    return this.names.lookup(name, namespace);
  }

  /** A name not held here: the live other coordinator of the mesh holding it, if one does. */
  async lookupElsewhere(name: string, namespace: string): Promise<NameElsewhere | undefined> {
    return this.names.remote?.find(namespace, name);
  }

  /** Live named actors mesh-wide (Ray's list_named_actors from any driver); this coordinator's without a mesh. */
  namedAcross(namespace: string | null): Promise<{ name: string; namespace: string }[]> {
    return this.names.namedAcross(namespace);
  }

  /** Live named actors, in one namespace or (null) in all (Ray's list_named_actors). */
  named(namespace: string | null): { name: string; namespace: string }[] {
    return this.names.named(namespace);
  }

  get alive(): number {
    let n = 0;
    for (const a of this.table.values()) if (a.state !== 'dead') n++;
    return n;
  }

  static creationObject(id: TaskId) {
    return returnObjectId(id, 0);
  }
}
