// How many members of a task group a node has room for now: room.ts's rules for a plain task of the group's
// template (its resources, the function's pipelining depth), counted at once instead of member by member.
import type { TaskSpec } from '../../shared/protocol/messages.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord } from '../gcs/tables.js';
import { EXTRA_PLACES, fnDepth } from '../scheduler/room.js';

/** Runs of a function before its measure sets a slice's depth; until then one member a CPU free. */
export const MEASURED_RUNS = 3;

/**
 * Members of `spec` node `n` takes now (0: none), at most `cap`. As fits() for each in turn: CPUs pipelined to the
 * function's depth, other resources outright; the node's queue no deeper than its CPUs times that depth (a
 * plain task's extra 16 places take one member at a time: slices stay shallow, so a node that joins mid-job gets work). A
 * function not measured yet gets one member a free CPU (depth 1, not a plain task's 2): a slice takes a node's room
 * at once, so a burst of long tasks at depth 2 reached half the nodes where plain tasks, placed one by one least
 * loaded first, reach all (test/integration/packing.test.ts). `plain`: exactly room.ts's fits() for as many plain
 * tasks (its depth, its extra places): members made plain tasks for a link (group-slices.ts overLinks).
 */
export function roomFor(gcs: Gcs, n: NodeRecord, spec: TaskSpec, cap: number, plain = false): number {
  if (n.session.closing) return 0; // as room.ts fits(): a slice sent to a closing node is dropped
  const cpus = n.resources.cpu ?? 0;
  const f = gcs.functions.get(spec.fnId);
  const d = plain || (f && f.runs >= MEASURED_RUNS) ? fnDepth(gcs, spec.fnId) : 1;
  const slots = Math.max(1, cpus) * d;
  // Tasks that hold no CPU count in inflightTasks too (a 0-CPU actor's calls waiting on a signal): past the tight
  // bound, a node a plain task still fits (fits(): EXTRA_PLACES more) takes slices of one member, or a 1-CPU node
  // with such calls never took a member (test_cancel's test_stress hung so, groups on). The CPU bound below holds.
  let k = Math.min(cap, slots + (plain ? EXTRA_PLACES : 0) - n.inflightTasks);
  if (k <= 0 && n.inflightTasks < slots + EXTRA_PLACES) k = 1;
  const req = spec.resources;
  for (const r in req) {
    const want = req[r];
    if (want <= 0) continue;
    const have = n.resources[r] ?? 0;
    if (want > have) return 0;
    if (r === 'cpu') {
      const free = cpus - n.actorCpu;
      k = Math.min(k, Math.floor((free * d - ((n.inflight.cpu ?? 0) - n.actorCpu)) / want));
    } else k = Math.min(k, Math.floor((have - (n.inflight[r] ?? 0)) / want));
  }
  return Math.max(0, k);
}
