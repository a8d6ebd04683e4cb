// Spread: round-robin over the nodes that can take the task, so that a batch
// of tasks lands on as many nodes as possible. In a large mesh the turn looks
// a bounded way past its cursor (node-index.ts SPREAD_SCAN); when all of
// those are full it takes the least loaded node with room.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { PlacementContext, PlacementPolicy } from './policy.js';

export const spreadPolicy: PlacementPolicy = {
  name: 'spread',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    const fits = (n: NodeRecord) => ctx.fits(n, task);
    return ctx.index.nextInTurn(fits) ?? ctx.index.leastLoaded(task, fits);
  },
};
