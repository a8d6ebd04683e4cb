// Node affinity: run on the named node; when `soft`, anywhere else if that
// node is gone or cannot run it at all.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { defaultPolicy } from './default-policy.js';
import type { PlacementContext, PlacementPolicy } from './policy.js';

export const affinityPolicy: PlacementPolicy = {
  name: 'affinity',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    const s = task.spec.scheduling;
    if (typeof s !== 'object' || s === null) return defaultPolicy.pick(task, ctx);
    const node = ctx.gcs.nodes.get(s.node);
    if (node && ctx.feasible(node, task)) return ctx.fits(node, task) ? node : null;
    return s.soft ? defaultPolicy.pick(task, ctx) : null;
  },
};
