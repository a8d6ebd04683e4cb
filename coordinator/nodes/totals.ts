// Running totals of a coordinator's own nodes (issue 14): how many, their
// CPUs, and their tasks placed and not ended. The mesh's record (every 500 ms,
// coordinator/mesh/mesh.ts) and the offer of its agents to the other
// coordinators (every 250 ms, agent.ts) read them in O(1): a walk of every
// node record cost that often at 20,000 nodes. Other coordinators' links are
// not counted: their nodes are not ours to lend. Membership (joins, leaves,
// capacity) and load.ts (tasks placed, ended, blocked; actors) are the writers.
import type { NodeRecord } from '../gcs/tables.js';

/** `n`'s tasks in flight (inflightTasks) moved by `delta`. */
export function loadMoved(n: NodeRecord, delta: number): void {
  const t = n.totals;
  if (t) t.load += delta;
}

export class NodeTotals {
  /** Own nodes in the mesh. */
  nodes = 0;
  /** Their CPUs (a paused node offers none). */
  cpus = 0;
  /** Their tasks placed and not ended (inflightTasks). */
  load = 0;

  /** `n` joined: counted from now, unless it is another coordinator's link. */
  add(n: NodeRecord): void {
    if (n.link !== undefined || n.totals !== undefined) return;
    n.totals = this;
    this.nodes++;
    this.cpus += n.resources.cpu ?? 0;
    this.load += n.inflightTasks;
  }

  /** `n` left: what it counted goes (tasks handed back from it later no longer count). */
  remove(n: NodeRecord): void {
    if (n.totals !== this) return;
    n.totals = undefined;
    this.nodes--;
    this.cpus -= n.resources.cpu ?? 0;
    this.load -= n.inflightTasks;
  }

  /** `n`'s CPUs changed from `before` (paused, resumed, its executor count). */
  cpusChanged(n: NodeRecord, before: number): void {
    if (n.totals === this) this.cpus += (n.resources.cpu ?? 0) - before;
  }
}
