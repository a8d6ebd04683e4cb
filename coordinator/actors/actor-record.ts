// An actor's record in the GCS and what the actor manager asks of the task
// side (the hooks, wired in scheduler/task-wiring.ts).
import type { Failure } from '../../shared/errors.js';
import type { Fifo } from '../../shared/fifo.js';
import type { JobId, TaskId } from '../../shared/ids.js';
import type { TaskSpec } from '../../shared/protocol/messages.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';

export interface ActorRecord {
  id: TaskId;
  name: string | null;
  /** Where its name lives (Ray's namespaces): names are unique per namespace. */
  namespace: string;
  /** Ray's `lifetime: 'detached'`: it outlives its job (its name holds it) until killed. */
  detached: boolean;
  className: string;
  job: JobId;
  state: 'pending' | 'alive' | 'restarting' | 'dead';
  creation: TaskRecord;
  node: NodeRecord | null;
  /** Calls not yet dispatched, per caller, in the order submitted. */
  callers: Map<TaskId, Fifo<TaskRecord>>;
  /** Calls dispatched and not ended. */
  inflight: Set<TaskRecord>;
  /** The method log: ids of dispatched calls, in order. */
  log: TaskId[];
  /** Calls since the last checkpoint, replayed in order after a restart (their arguments are held). */
  replay: TaskSpec[];
  checkpoint: Uint8Array | null;
  restarts: number;
  calls: number;
  createdAt: number;
  diedAt: number;
  deathCause: string | null;
}

export interface ActorHooks {
  /** Sends a ready call to the actor's node. */
  dispatch(t: TaskRecord, n: NodeRecord): void;
  fail(t: TaskRecord, f: Failure): void;
  /** Frees the resources the creation task held on its node. */
  release(creation: TaskRecord): void;
  /** Runs the creation task again (a restart), placed by the scheduler. */
  recreate(creation: TaskRecord): void;
  /** Takes (+1) or gives up (-1) references to a call's arguments while it is in the replay log. */
  holdArgs(spec: TaskSpec, sign: 1 | -1): void;
  /** Sends a logged call to the restarted actor's node, to rebuild its state (its result is not news). */
  replay(spec: TaskSpec, n: NodeRecord): void;
  /** Its name was claimed mesh-wide: creation `t`, which waited for that, goes on (coordinator/mesh/actor-names.ts). */
  nameClaimed(t: TaskRecord): void;
  /** A detached actor died: its name no longer holds its creation object. */
  unpin(id: TaskId): void;
}

/** A new actor's record: pending until its creation task `t` returns. */
export function newActorRecord(t: TaskRecord, namespace: string): ActorRecord {
  const a = t.spec.actor!;
  return {
    id: t.spec.taskId,
    name: a.name ?? null,
    namespace,
    detached: !!a.detached,
    className: t.spec.name,
    job: t.spec.jobId,
    state: 'pending',
    creation: t,
    node: null,
    callers: new Map(),
    inflight: new Set(),
    log: [],
    replay: [],
    checkpoint: null,
    restarts: 0,
    calls: 0,
    createdAt: Date.now(),
    diedAt: 0,
    deathCause: null,
  };
}

/** The failure of a call (or the creation) of an actor that died or is unknown. */
export function diedFailure(t: TaskRecord, a: ActorRecord | undefined, why?: string): Failure {
  return {
    code: 'ACTOR_DIED',
    name: 'ActorDiedError',
    message: a
      ? `actor ${a.className} ${a.id.slice(0, 12)} died: ${why ?? a.deathCause ?? 'unknown'}`
      : `actor ${t.spec.actor?.id.slice(0, 12)} is unknown or gone`,
    stack: '',
    functionName: t.spec.name,
    taskId: t.spec.taskId,
  };
}
