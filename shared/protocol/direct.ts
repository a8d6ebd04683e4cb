// Direct submission (issue 14, session 15; Ray's leased workers): a driver
// pushes a plain sequential task straight to a node over their TCP peer link,
// and the task's small result comes back by the result shortcut (shortcut.ts).
// The coordinator stays the authority: it grants each lease (`lease`, to the
// driver and to the node, over their own authenticated sockets; revoked when
// the node leaves or the job ends), and the driver's own `submit` (with `to`,
// in order with everything else the driver says) records the task as assigned
// to that node, so lineage, the object directory, a lost node's re-queue and
// re-execution are as for any task. The node takes a task only from the peer
// whose job it holds a lease of (the signalling relay vouched for that peer's
// id), with a free slot, else refuses it (the driver then sends `unplaced`,
// and the coordinator places it). Off with TABMESH_DIRECT=0.
import { rootTaskId } from '../ids.js';
import type { TaskSpec } from './task.js';
import { TAG_BYTES } from './shortcut.js';

/** A driver pushes at most this many tasks at once straight to nodes; more go through the coordinator (as shortcuts' limit). */
export const DIRECT_MAX_IN_FLIGHT = 4;

/**
 * A driver sends no more tasks straight to nodes while this many it sent are not yet handled by the coordinator
 * (as the echo of a barrier behind their submissions tells it): a node's `done` that comes before its task's
 * submission is parked there, and the parking is bounded (coordinator/scheduler/direct-leases.ts). Without a
 * bound, a driver whose frames waited behind its own backlog at the coordinator (a batch's 20,000 releases) ran
 * hundreds of sequential tasks ahead of their records. 64 (16 until session 24): each echo is a frame each way
 * between the driver and the coordinator, ~100-150 µs of a writer's CPU on this VM and a wake-up at the reader, and
 * one every 8 tasks was most of a sequential task's frames there.
 */
export const DIRECT_UNRECORDED_MAX = 64;

/** The driver asks for such an echo once this many tasks it sent are unrecorded (one echo for this many tasks; 8 until session 24). */
export const DIRECT_RECEIPT_EVERY = 32;

/** The tag a node's result shortcut of a direct task carries (the driver knows it sent that task to that node). */
export const DIRECT_TAG = '0'.repeat(TAG_BYTES * 2);

/**
 * Why `spec` cannot go straight to a node, or null: the driver's own plain task (no actor, verify or placement
 * policy), one return, inline arguments only (a ref's readiness is the coordinator's to know), at most one CPU.
 */
export function notDirect(spec: TaskSpec): string | null {
  if (spec.actor || spec.verify || spec.scheduling) return 'an actor call, verified or placed task';
  if (spec.parentId !== rootTaskId(spec.jobId) || spec.attempt !== 0) return "not the driver's own first attempt";
  if (spec.numReturns !== 1) return 'not one return';
  for (const a of spec.args) if (a.v === undefined) return 'a ref argument';
  for (const r in spec.resources) if (r !== 'cpu' || spec.resources.cpu > 1) return 'more than one CPU, or another resource';
  return null;
}
