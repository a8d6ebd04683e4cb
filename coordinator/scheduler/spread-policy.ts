// Spread: round-robin over the nodes that can take the task, so that a batch
// of tasks lands on as many nodes as possible.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { PlacementContext, PlacementPolicy } from './policy.js';

let cursor = 0;

export const spreadPolicy: PlacementPolicy = {
  name: 'spread',
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null {
    const n = ctx.nodes.length;
    for (let i = 0; i < n; i++) {
      const node = ctx.nodes[(cursor + i) % n];
      if (ctx.fits(node, task)) {
        cursor = (cursor + i + 1) % n;
        return node;
      }
    }
    return null;
  },
};
