// Default placement (ARCHITECTURE.md "A task's life", step 3): feasible
// resources first, then the most argument bytes already on the node, then
// the least loaded node.
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
    const hasRefs = task.spec.args.some((a) => a.r !== undefined);
    for (const n of ctx.nodes) {
      if (!ctx.fits(n, task)) continue;
      const bytes = hasRefs ? localArgBytes(task, n, ctx) : 0;
      const load = loadOf(n);
      const b = bytes >= LOCALITY_MIN_BYTES ? bytes : 0;
      if (b > bestBytes || (b === bestBytes && load < bestLoad)) {
        best = n;
        bestBytes = b;
        bestLoad = load;
      }
    }
    return best;
  },
};

export function localArgBytes(task: TaskRecord, n: NodeRecord, ctx: PlacementContext): number {
  let bytes = 0;
  for (const a of task.spec.args) {
    if (a.r === undefined) continue;
    const o = ctx.gcs.objects.get(a.r);
    if (o && o.locations.has(n.session)) bytes += o.size;
  }
  return bytes;
}
