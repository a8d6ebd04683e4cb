// Default placement (ARCHITECTURE.md "A task's life", step 3): feasible
// resources first, then the most argument bytes already on the node, then
// the least loaded node. A holder without room (saturated: its CPUs and
// pipelined queue are full) does not hold a task back; the log says so.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { loadOf, type PlacementContext, type PlacementPolicy } from './policy.js';

/** Below this, argument bytes do not pull a task to a node: moving them is cheap. */
const LOCALITY_MIN_BYTES = 64 * 1024;

export const defaultPolicy: PlacementPolicy = {
  name: 'default',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    let best: NodeRecord | null = null;
    let bestBytes = -1;
    let bestLoad = Infinity;
    // The node holding most argument bytes, whether or not it has room (for the event log).
    let holder: NodeRecord | null = null;
    let holderBytes = 0;
    const hasRefs = task.spec.args.some((a) => a.r !== undefined);
    for (const n of ctx.nodes) {
      const bytes = hasRefs ? localArgBytes(task, n, ctx) : 0;
      if (bytes >= LOCALITY_MIN_BYTES && bytes > holderBytes && ctx.feasible(n, task)) {
        holder = n;
        holderBytes = bytes;
      }
      if (!ctx.fits(n, task)) continue;
      const load = loadOf(n);
      const b = bytes >= LOCALITY_MIN_BYTES ? bytes : 0;
      if (b > bestBytes || (b === bestBytes && load < bestLoad)) {
        best = n;
        bestBytes = b;
        bestLoad = load;
      }
    }
    if (best && holder) logLocality(task, best, holder, holderBytes, ctx);
    return best;
  },
};

/** The event log says where a task with large arguments went and why (issue 4). */
function logLocality(task: TaskRecord, chosen: NodeRecord, holder: NodeRecord, holderBytes: number, ctx: PlacementContext): void {
  const t = task.spec.taskId;
  const refs = { task: t, node: chosen.id, job: task.spec.jobId };
  if (chosen === holder) {
    ctx.gcs.event('placed-local', `task ${task.spec.name} ${t.slice(0, 12)} placed on node ${chosen.id}, which holds ${holderBytes} bytes of its arguments`, refs);
  } else {
    ctx.gcs.event(
      'placed-remote',
      `task ${task.spec.name} ${t.slice(0, 12)} placed on node ${chosen.id}: node ${holder.id}, which holds ${holderBytes} bytes of its arguments, is saturated`,
      refs,
    );
  }
}

export function localArgBytes(task: TaskRecord, n: NodeRecord, ctx: PlacementContext): number {
  let bytes = 0;
  for (const a of task.spec.args) {
    if (a.r === undefined) continue;
    const o = ctx.gcs.objects.get(a.r);
    if (o && o.locations.has(n.session)) bytes += o.size;
  }
  return bytes;
}
