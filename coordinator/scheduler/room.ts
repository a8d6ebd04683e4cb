// Whether a node has room for a task now, and how deep a node's queue may be
// for a function (pipelining): a node is sent more tasks than it has CPUs when
// the function is short, so that it never waits on a round trip.
import type { FunctionId } from '../../shared/ids.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { linkMayRun } from './placement-rules.js';

/** How much work (ms) to keep queued per CPU on a node. */
const PIPELINE_MS = 10;
const MAX_DEPTH = 64;
/** Depth for a function not yet measured. */
const UNKNOWN_DEPTH = 2;
/** Places in a node's queue past its CPUs times the depth (zero-CPU tasks still take one). */
export const EXTRA_PLACES = 16;

/** Tasks per CPU a node may hold for this function. */
export function depth(gcs: Gcs, t: TaskRecord): number {
  return fnDepth(gcs, t.spec.fnId);
}

/** Tasks per CPU a node may hold for function `fn` (a task group's members too: coordinator/groups). */
export function fnDepth(gcs: Gcs, fn: FunctionId): number {
  const f = gcs.functions.get(fn);
  if (!f || f.runs < 3) return UNKNOWN_DEPTH;
  return Math.max(1, Math.min(MAX_DEPTH, Math.floor(PIPELINE_MS / Math.max(f.ewmaMs, 0.005))));
}

export function fits(gcs: Gcs, n: NodeRecord, t: TaskRecord): boolean {
  if (t.replicas?.used.has(n.id)) return false;
  // A node whose socket is closing: what it is sent is dropped, and its close then re-queues it as a lost run.
  if (n.session.closing) return false;
  if (n.link !== undefined && !linkMayRun(t, gcs)) return false;
  const req = t.spec.resources;
  const cpus = n.resources.cpu ?? 0;
  const d = depth(gcs, t);
  for (const r in req) {
    const want = req[r];
    if (want === 0) continue;
    const have = n.resources[r] ?? 0;
    if (want > have) return false;
    if (r === 'cpu') {
      // Live actors hold their CPUs outright; only the rest is pipelined.
      const free = cpus - n.actorCpu;
      if (t.spec.actor?.kind === 'create') {
        if ((n.inflight.cpu ?? 0) + want > cpus) return false; // an actor needs a CPU of its own now
      } else if ((n.inflight.cpu ?? 0) - n.actorCpu + want > free * d) return false;
    } else if ((n.inflight[r] ?? 0) + want > have) return false;
  }
  // Zero-CPU tasks still take a place in the node's queue.
  return n.inflightTasks < Math.max(1, cpus) * d + EXTRA_PLACES;
}
