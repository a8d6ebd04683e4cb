// Default placement (ARCHITECTURE.md "A task's life", step 3): feasible
// resources first, then the most argument bytes already on the node, then
// the least loaded node. A task whose arguments are large queues on the node
// holding most of them, past its pipelining depth, unless that node is
// saturated (issue 4); the event log says which.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { loadOf, type PlacementContext, type PlacementPolicy } from './policy.js';

/** Below this, argument bytes do not pull a task to a node: moving them is cheap. */
const LOCALITY_MIN_BYTES = 64 * 1024;
/** A holder with this many tasks per CPU queued or running is saturated: the task goes elsewhere. */
export const SATURATED_TASKS_PER_CPU = 16;

export const defaultPolicy: PlacementPolicy = {
  name: 'default',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    let best: NodeRecord | null = null;
    let bestBytes = 0;
    let bestLoad = Infinity;
    // The node holding most argument bytes, whether or not it has room (for the event log).
    let holder: NodeRecord | null = null;
    let holderBytes = 0;
    let holderLoad = Infinity;
    // Holders come from the object directory (the argument's locations), not from a scan of the nodes.
    const held = task.spec.args.some((a) => a.r !== undefined) ? argBytesByNode(task, ctx) : null;
    if (held) {
      for (const [n, bytes] of held) {
        if (bytes < LOCALITY_MIN_BYTES) continue;
        const load = loadOf(n);
        if ((bytes > holderBytes || (bytes === holderBytes && earlier(n, load, holder, holderLoad, ctx))) && ctx.feasible(n, task)) {
          holder = n;
          holderBytes = bytes;
          holderLoad = load;
        }
        if (!ctx.fits(n, task)) continue;
        if (bytes > bestBytes || (bytes === bestBytes && earlier(n, load, best, bestLoad, ctx))) {
          best = n;
          bestBytes = bytes;
          bestLoad = load;
        }
      }
    }
    // No holder with room: the least loaded node with room.
    best ??= ctx.index.leastLoaded(task, (n) => ctx.fits(n, task));
    // Queue on the holder rather than move its bytes, unless it is saturated.
    if (holder && bestBytes < holderBytes && !saturated(holder, task, ctx)) {
      best = holder;
      bestBytes = holderBytes;
    }
    if (best && holder) logLocality(task, best, bestBytes >= holderBytes, holder, holderBytes, ctx);
    return best;
  },
};

/** Less loaded, or as loaded and joined first. */
function earlier(n: NodeRecord, load: number, than: NodeRecord | null, thanLoad: number, ctx: PlacementContext): boolean {
  if (!than) return true;
  return load < thanLoad || (load === thanLoad && ctx.index.seqOf(n) < ctx.index.seqOf(than));
}

/** The event log says where a task with large arguments went and why (issue 4). */
function logLocality(task: TaskRecord, chosen: NodeRecord, local: boolean, holder: NodeRecord, holderBytes: number, ctx: PlacementContext): void {
  const t = task.spec.taskId;
  const refs = { task: t, node: chosen.id, job: task.spec.jobId };
  if (local) {
    ctx.gcs.event(
      'placed-local',
      `task ${task.spec.name} ${t.slice(0, 12)} placed on node ${chosen.id}, which holds ${holderBytes} bytes of its arguments`,
      refs,
    );
  } else {
    ctx.gcs.event(
      'placed-remote',
      `task ${task.spec.name} ${t.slice(0, 12)} placed on node ${chosen.id}: node ${holder.id}, which holds ${holderBytes} bytes of its arguments, is saturated (${holder.inflightTasks} tasks on ${holder.resources.cpu ?? 0} cpu)`,
      refs,
    );
  }
}

/**
 * Whether `n` can take no more of `task` even to save moving its arguments:
 * its queue is SATURATED_TASKS_PER_CPU deep, or a resource other than CPU is taken.
 */
function saturated(n: NodeRecord, task: TaskRecord, ctx: PlacementContext): boolean {
  const req = task.spec.resources;
  for (const r in req) if (r !== 'cpu' && req[r] > 0) return !ctx.fits(n, task);
  return n.inflightTasks >= Math.max(1, n.resources.cpu ?? 0) * SATURATED_TASKS_PER_CPU;
}

/** Bytes of the task's ref arguments each node holds, from the objects' locations. */
export function argBytesByNode(task: TaskRecord, ctx: PlacementContext): Map<NodeRecord, number> {
  const out = new Map<NodeRecord, number>();
  for (const a of task.spec.args) {
    if (a.r === undefined) continue;
    const o = ctx.gcs.objects.get(a.r);
    if (!o || o.size === 0) continue;
    for (const s of o.locations) {
      const n = ctx.index.nodeOf(s);
      if (n) out.set(n, (out.get(n) ?? 0) + o.size);
    }
  }
  return out;
}
