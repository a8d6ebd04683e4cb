// Placement policies: one file each, behind one interface. A policy picks a
// node for a task among those that can take it now, or null. Policies find
// nodes through the index (coordinator/scheduler/node-index.ts), never by
// walking every node: a placement costs the same with 10 nodes or 10,000.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeIndex } from './node-index.js';

export interface PlacementContext {
  gcs: Gcs;
  /** Nodes alive, by shape and load. */
  index: NodeIndex;
  /** Whether `node` has room for `task` now. */
  fits(node: NodeRecord, task: TaskRecord): boolean;
  /** Whether `node` could ever run `task` (its total resources suffice). */
  feasible(node: NodeRecord, task: TaskRecord): boolean;
}

export interface PlacementPolicy {
  readonly name: string;
  pick(task: TaskRecord, ctx: PlacementContext): NodeRecord | null;
}

/** Load of a node as a fraction of its CPUs: tasks it runs or has queued. */
export function loadOf(n: NodeRecord): number {
  const cpus = Math.max(1, n.resources.cpu ?? 1);
  return n.inflightTasks / cpus;
}
