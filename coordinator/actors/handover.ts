// Actors outlive their coordinator (issue 15). An actor's state lives in its
// executor on its node; the GCS row of a live actor says which process hosts
// it (the hash of that process's host key). When the coordinator running the
// job dies, the node joins another one (or the same one, restarted) saying
// which actors it still hosts, and the job's driver resumes there: the job's
// rows are read back and each actor waits here for its host. Whichever comes
// first waits for the other, within a grace; then the actor is attached to
// its node again with its state intact, or lost (restarted or dead) if its
// host never came, and a host's actor nobody claims is stopped on the node.
import { createHash } from 'node:crypto';
import { encodeValue } from '../../shared/codec.js';
import type { Failure } from '../../shared/errors.js';
import type { TaskId } from '../../shared/ids.js';
import type { TaskResult, TaskSpec } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { TaskManager } from '../scheduler/tasks.js';
import type { ActorManager } from './actors.js';

/** What a GCS row of a live actor keeps (gcs.persistActor). */
export interface ActorRow {
  id: TaskId;
  job: string;
  hostKey: string;
  restarts: number;
  /** Its constructor was sent to that host and had not returned when the row was written. */
  placed?: boolean;
}

/** A recovered actor creation whose end nobody can vouch for: whether it ran is unknown, and an actor's state must not see it twice. */
export function inFlightFailure(spec: TaskSpec, why = ''): Failure {
  return {
    code: 'ACTOR_DIED',
    name: 'ActorDiedError',
    message: `actor ${spec.actor!.id.slice(0, 12)}: this ${spec.actor!.kind === 'call' ? 'call' : 'constructor'} was in flight when the coordinator running its job stopped${why}`,
    stack: '',
    functionName: spec.name,
    taskId: spec.taskId,
  };
}

/** What a node reports when a constructor returns (the executor's `undefined`). */
const CONSTRUCTED: TaskResult = { v: encodeValue(undefined).bytes, refs: [] };

export function hostKeyHash(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

type Timer = ReturnType<typeof setTimeout>;

export class ActorHandover {
  /** Actors of recovered jobs waiting for their host: id -> its key hash, and the creation when its constructor was in flight. */
  private readonly awaited = new Map<TaskId, { key: string; timer: Timer; constructing?: TaskRecord }>();
  /** Actors nodes said they host that no job known here has (yet): id -> the node. */
  private readonly claims = new Map<TaskId, { node: NodeRecord; timer: Timer }>();
  /** A node hosts an actor of no job known here (coordinator/mesh/detached-actors.ts: it may be a detached actor's). */
  private unknownHosted: ((id: TaskId) => Promise<unknown>) | undefined;
  /** Actors whose job unknownHosted is adopting now: their claims wait on (a lease lapse may take longer than the grace). */
  private readonly adopting = new Set<TaskId>();

  constructor(
    private readonly gcs: Gcs,
    private readonly actors: ActorManager,
    private readonly tasks: () => TaskManager,
    /** How long a node's claim waits for its actor's job to be taken over here. */
    private readonly claimGraceMs: number,
  ) {}

  /**
   * A recovered job's actor (its creation task finished): attached to its host now if it joined already, else when it
   * does. False when it cannot be registered here (known, or its name taken).
   */
  expect(creation: TaskRecord, row: ActorRow, graceMs: number): boolean {
    const id = creation.spec.taskId;
    if (!this.actors.adopt(creation, row.restarts)) return false;
    const claim = this.claims.get(id);
    if (claim) {
      clearTimeout(claim.timer);
      this.claims.delete(id);
      if (this.live(claim.node) && claim.node.hostKey === row.hostKey) {
        this.attach(creation, claim.node);
        return true;
      }
    }
    const timer = setTimeout(() => {
      if (this.awaited.get(id)?.timer !== timer) return;
      this.awaited.delete(id);
      this.actors.unclaimed(id, `its node did not join again within ${graceMs} ms of its coordinator's end`);
    }, graceMs);
    timer.unref?.();
    this.awaited.set(id, { key: row.hostKey, timer });
    return true;
  }

  /**
   * A recovered job's actor whose constructor was in flight (sent to its host,
   * its end not on record: the coordinator stopped within a write window, or
   * before the node's report came). Only the host knows: if it joins saying it
   * hosts the actor, the constructor ended there and the actor lives on with
   * its state; if it joins without it, or not within the grace, the creation
   * fails as before. False when the actor cannot be registered here.
   */
  expectConstructor(creation: TaskRecord, row: ActorRow, graceMs: number): boolean {
    const id = creation.spec.taskId;
    if (this.actors.has(id) || this.actors.register(creation)) return false;
    const claim = this.claims.get(id);
    if (claim) {
      clearTimeout(claim.timer);
      this.claims.delete(id);
      if (this.live(claim.node) && claim.node.hostKey === row.hostKey) {
        this.constructed(creation, claim.node);
        return true;
      }
    }
    const timer = setTimeout(() => {
      if (this.awaited.get(id)?.timer !== timer) return;
      this.awaited.delete(id);
      if (this.gcs.tasks.get(id) === creation)
        this.tasks().finishFailed(creation, inFlightFailure(creation.spec, `, and its node did not join again within ${graceMs} ms`));
    }, graceMs);
    timer.unref?.();
    this.awaited.set(id, { key: row.hostKey, timer, constructing: creation });
    return true;
  }

  /**
   * Tells `hook` of each actor a node hosts that no job known here has, from now on and those waiting already (a node
   * may join before the mesh starts). Undefined: no more.
   */
  watchUnknown(hook: ((id: TaskId) => Promise<unknown>) | undefined): void {
    this.unknownHosted = hook;
    if (hook) for (const id of this.claims.keys()) this.adopt(id);
  }

  private adopt(id: TaskId): void {
    const hook = this.unknownHosted;
    if (!hook || this.adopting.has(id)) return;
    this.adopting.add(id);
    void hook(id).finally(() => this.adopting.delete(id));
  }

  /** A node joined saying it still hosts these actors (from an earlier session of its process). */
  joined(n: NodeRecord, ids: TaskId[]): void {
    this.missing(n, new Set(ids));
    for (const id of ids) {
      const w = this.awaited.get(id);
      const creation = this.gcs.tasks.get(id);
      if (w && w.key === n.hostKey && creation) {
        clearTimeout(w.timer);
        this.awaited.delete(id);
        if (w.constructing) this.constructed(creation, n);
        else this.attach(creation, n);
        continue;
      }
      // Known here and not waiting for this process: it lives elsewhere, or it died; the node's copy goes.
      if (w || this.actors.has(id)) {
        this.stop(n, id);
        continue;
      }
      // Its job may not be taken over yet (its driver resumes later).
      const prev = this.claims.get(id);
      if (prev) clearTimeout(prev.timer);
      const expire = (): void => {
        const c = this.claims.get(id);
        if (c?.timer !== timer) return;
        // Its job is being adopted here (coordinator/mesh/detached-actors.ts): the claim waits for that.
        if (this.adopting.has(id)) {
          c.timer = timer = setTimeout(expire, this.claimGraceMs);
          timer.unref?.();
          return;
        }
        this.claims.delete(id);
        if (this.live(n)) this.stop(n, id);
      };
      let timer = setTimeout(expire, this.claimGraceMs);
      timer.unref?.();
      this.claims.set(id, { node: n, timer });
      this.adopt(id);
    }
  }

  /** The host joined again without these awaited actors: gone with their executor, or their constructor never ended there. Decided now, not after the grace. */
  private missing(n: NodeRecord, hosted: ReadonlySet<TaskId>): void {
    if (!n.hostKey) return;
    for (const [id, w] of [...this.awaited]) {
      if (w.key !== n.hostKey || hosted.has(id)) continue;
      clearTimeout(w.timer);
      this.awaited.delete(id);
      const why = `its node ${n.id} joined again without it`;
      if (!w.constructing) this.actors.unclaimed(id, why);
      else if (this.gcs.tasks.get(id) === w.constructing) this.tasks().finishFailed(w.constructing, inFlightFailure(w.constructing.spec, `, and ${why}`));
    }
  }

  /** Its constructor ended on `n`, which hosts it: as if `n` had reported it to the coordinator that stopped. */
  private constructed(creation: TaskRecord, n: NodeRecord): void {
    this.gcs.event(
      'actor-found',
      `actor ${creation.spec.name} ${creation.spec.taskId.slice(0, 12)}: its constructor was in flight when the coordinator running its job stopped; node ${n.id} hosts it`,
      { job: creation.spec.jobId, node: n.id, task: creation.spec.taskId },
    );
    this.tasks().constructedOn(creation, n, CONSTRUCTED);
  }

  /** A creation was sent to node `n` (placed): its host is on record before its constructor can return. */
  placed(id: TaskId, n: NodeRecord): void {
    const a = this.actors.get(id);
    if (a && a.state !== 'dead') this.gcs.persistActor(a.id, a.job, n.hostKey, a.restarts, true);
  }

  private attach(creation: TaskRecord, n: NodeRecord): void {
    this.tasks().rehost(creation, n);
    this.actors.reattach(creation.spec.taskId, n);
  }

  private stop(n: NodeRecord, id: TaskId): void {
    n.session.send({ t: 'killActor', id });
  }

  private live(n: NodeRecord): boolean {
    return this.gcs.nodes.get(n.id) === n;
  }

  close(): void {
    for (const w of this.awaited.values()) clearTimeout(w.timer);
    for (const c of this.claims.values()) clearTimeout(c.timer);
    this.awaited.clear();
    this.claims.clear();
  }
}
