// The node views' ranking (issue 14): which nodes the live document shows past
// MAX_NODES (the busiest), and whether a shown view is still what its node is.
import type { NodeView } from '../../shared/dashboard.js';
import type { NodeRecord } from '../gcs/tables.js';

/** Node views in the document: a mesh of 10,000 nodes shows totals plus its busiest nodes (issue 14). */
export const MAX_NODES = 200;
/** The order of the shown nodes: most tasks in flight, then most done. */
export const score = (n: NodeRecord) => n.inflightTasks * 1e9 + n.tasksDone;

/** Whether `v` still shows what `n`'s load and counts are (trust, objects and bytes refresh once a second). */
export function unchanged(v: NodeView, n: NodeRecord): boolean {
  return (
    v.inflight === n.inflightTasks &&
    v.tasksDone === n.tasksDone &&
    v.running === n.load.running &&
    v.queued === n.load.queued &&
    v.storeBytes === n.load.storeBytes &&
    v.cpus === (n.resources.cpu ?? 0)
  );
}

/** The MAX_NODES best of `nodes` by score, best first (`all`: every one, in their order). */
export function best(nodes: Iterable<NodeRecord>, all: boolean): NodeRecord[] {
  const top: NodeRecord[] = [];
  for (const n of nodes) {
    if (all) {
      top.push(n);
      continue;
    }
    // Keep the MAX_NODES best, sorted best first; most nodes fail the first comparison.
    const s = score(n);
    if (top.length === MAX_NODES && s <= score(top[MAX_NODES - 1])) continue;
    let i = top.length;
    while (i > 0 && score(top[i - 1]) < s) i--;
    top.splice(i, 0, n);
    if (top.length > MAX_NODES) top.pop();
  }
  return top;
}
