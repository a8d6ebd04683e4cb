// Rows of the state API and the live document: an actor and an object as
// readers see them (plain JSON, no records or sessions).
import { isPutObject, ownId, taskOfObject } from '../../shared/ids.js';
import type { ActorRecord } from '../actors/actor-record.js';
import type { ObjectRecord } from '../gcs/tables.js';

export function actorView(a: ActorRecord) {
  return {
    id: a.id,
    name: a.name,
    namespace: a.namespace,
    lifetime: a.detached ? 'detached' : null,
    className: a.className,
    job: a.job,
    state: a.state === 'pending' && a.creation.state === 'queued' && a.creation.infeasible ? 'infeasible' : a.state,
    node: a.node?.id ?? null,
    calls: a.calls,
    pendingCalls: [...a.callers.values()].reduce((n, q) => n + q.length, 0) + a.inflight.size,
    createdAt: a.createdAt,
    diedAt: a.diedAt,
    deathCause: a.deathCause,
  };
}
/** An object's row; `state` is 'freed' for one listed a while after it left the GCS. */
export function objectView(o: ObjectRecord, freed = false) {
  return {
    // Kept after the object is freed (dashboard/recent.ts): strings of its own, not slices of a frame.
    id: ownId(o.id),
    job: ownId(o.job),
    state: freed ? 'freed' : (o.state as ObjectRecord['state'] | 'freed'),
    size: o.size,
    inline: o.v !== null,
    refs: o.refs,
    task: isPutObject(o.id) ? null : ownId(taskOfObject(o.id)),
    put: isPutObject(o.id),
    locations: freed ? [] : [...o.locations].map((s) => s.nodeId ?? `driver:${s.jobId}`),
    error: o.failure ? `${o.failure.name}: ${o.failure.message}` : null,
  };
}
