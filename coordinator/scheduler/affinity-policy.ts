// Node affinity: run on the named node; when `soft`, anywhere else if that
// node is gone or cannot run it at all, and with `spill` also when it is only
// busy (Ray's NodeAffinitySchedulingStrategy and its _spill_on_unavailable:
// a soft affinity alone waits for a busy node). A node whose socket closed is
// out of the index while its last frames are handled (coordinator.ts onClose):
// it takes nothing new, a hard affinity waits until it is gone (and fails then).
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { defaultPolicy } from './default-policy.js';
import type { PlacementContext, PlacementPolicy } from './policy.js';

export const affinityPolicy: PlacementPolicy = {
  name: 'affinity',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    const s = task.spec.scheduling;
    if (typeof s !== 'object' || s === null) return defaultPolicy.pick(task, ctx);
    const node = ctx.gcs.nodes.get(s.node);
    if (node && ctx.index.has(node) && ctx.feasible(node, task)) {
      if (ctx.fits(node, task)) return node;
      return s.soft && s.spill ? defaultPolicy.pick(task, ctx) : null;
    }
    return s.soft ? defaultPolicy.pick(task, ctx) : null;
  },
};
