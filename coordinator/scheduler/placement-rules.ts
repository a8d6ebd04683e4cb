// Rules the scheduler's passes apply to one task: which policy places it,
// whether a node could ever run it, whether a hard affinity names a node that
// is gone, whether another coordinator may run it.
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { ClassQueue } from './class-queue.js';
import { affinityPolicy } from './affinity-policy.js';
import { defaultPolicy } from './default-policy.js';
import type { PlacementPolicy } from './policy.js';
import { spreadPolicy } from './spread-policy.js';

/** The node a hard pin of `t` names when that node is gone for good (not in the table, not a link coming back); else null. */
export function pinnedToMissingNode(t: TaskRecord | undefined, gcs: Gcs): string | null {
  const s = t?.spec.scheduling;
  if (typeof s !== 'object' || s === null || s.soft || gcs.nodes.has(s.node) || gcs.nodeExpected(s.node)) return null;
  return s.node;
}

/** The node a hard pin of `t` names when that node is away but comes back (a live coordinator's link that is down); else null. */
export function pinnedToAwayNode(t: TaskRecord | undefined, gcs: Gcs): string | null {
  const s = t?.spec.scheduling;
  if (typeof s !== 'object' || s === null || s.soft || gcs.nodes.has(s.node) || !gcs.nodeExpected(s.node)) return null;
  return s.node;
}

/** Why a task hard-pinned to `node`, which is gone for good, cannot run (a link down past the bound, or of a coordinator that left). */
export function pinnedGone(node: string, gcs: Gcs): string {
  const away = gcs.nodeAway(node);
  const gone = away ? undefined : gcs.nodeGone(node);
  const more = away
    ? `: it is another coordinator's link, down for ${Math.round(away.ms / 1000)} s while that coordinator lives (${away.why}); a hard pin waits ${away.boundMs / 1000} s for it`
    : gone
      ? `: ${gone}`
      : '';
  return `it is pinned (node affinity, not soft) to node ${node}, which is not in the mesh${more}`;
}

/**
 * A queue's head hard-pinned to a node gone for good: the queue's tasks (one class: all pinned to it) fail now; to a
 * node away (a live coordinator's link that is down): `away` hears of it (feasibility.ts warns the driver).
 */
export function settlePins(q: ClassQueue, gcs: Gcs, fail: (t: TaskRecord, why: string) => void, away: (t: TaskRecord) => void): void {
  const head = q.peek();
  const gone = pinnedToMissingNode(head, gcs);
  if (gone) {
    const why = pinnedGone(gone, gcs);
    for (let t = q.peek(); t; t = q.peek()) {
      q.shift();
      fail(t, why);
    }
  } else if (head && pinnedToAwayNode(head, gcs)) away(head);
}

/** Whether `t` is pinned to node `n` (node affinity) and waits for it while it is busy: hard, or soft without `spill`. */
export function pinnedTo(t: TaskRecord, n: NodeRecord): boolean {
  const s = t.spec.scheduling;
  return typeof s === 'object' && s !== null && s.node === n.id && !(s.soft && s.spill);
}

/** Tasks on link `n` it may hand back (its tasks less those pinned to it), at most `most`: the walk stops there. */
export function movableOnLink(n: NodeRecord, most: number): number {
  let pinned = 0;
  let seen = 0;
  for (const t of n.tasks) {
    if (seen - pinned >= most) break;
    seen++;
    if (pinnedTo(t, n)) pinned++;
  }
  return Math.max(0, Math.min(most, n.inflightTasks - pinned));
}

export function feasible(n: NodeRecord, t: TaskRecord): boolean {
  for (const r in t.spec.resources) if (t.spec.resources[r] > (n.resources[r] ?? 0)) return false;
  return true;
}

export function policyOf(t: TaskRecord): PlacementPolicy {
  const s = t.spec.scheduling;
  if (s === 'spread') return spreadPolicy;
  if (typeof s === 'object' && s !== null) return affinityPolicy;
  return defaultPolicy;
}

/**
 * Another coordinator (coordinator/mesh) runs plain tasks of this one's own
 * jobs: not a job it runs for a third (no loops), not actors (they stay where
 * their calls are routed), not verified replicas (distinct nodes, not coordinators).
 */
export function linkMayRun(t: TaskRecord, gcs: Gcs): boolean {
  return !t.spec.actor && !t.spec.verify && !t.replicas && !gcs.jobs.get(t.spec.jobId)?.guest;
}

/**
 * Whether an idle node may take tasks others hand back (rebalance.ts): a link
 * only while a job of this coordinator's own has tasks not ended (links run
 * no guest tasks; a walk of the jobs, in rebalance rounds only).
 */
export function takesHandedBack(gcs: Gcs): (n: NodeRecord) => boolean {
  return (n) => {
    if (n.link === undefined) return true;
    for (const j of gcs.jobs.values()) {
      const c = j.counts;
      if (j.state === 'running' && !j.guest && c.submitted > c.finished + c.failed + c.cancelled) return true;
    }
    return false;
  };
}
