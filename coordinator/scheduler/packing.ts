// Hybrid placement of plain tasks (Ray's default hybrid policy, its
// scheduler_spread_threshold): a burst first fills a node already given work
// until it is half full (its load below PACK_THRESHOLD of the tasks per free
// CPU its depth allows), and only then spreads to the least loaded node. A
// node's assignments then leave in one frame of many tasks, and its results
// come back in frames of many, instead of a frame or two a task when 20,000
// tasks are spread over 10,000 nodes (issue 14: the coordinator's cost is per
// frame and per node touched). Long tasks still spread: their depth is 1 or 2
// tasks per CPU, so a node is half full with one task per CPU (less a CPU than
// that: with none), and the next task goes to another node.
// Meshes of at most PACK_ABOVE nodes are not packed: there a turn writes to
// few nodes anyway (scheduler.ts TURN_NODES) and placement stays the exact
// least loaded node (node-index.ts EXACT_BELOW). A mesh of several
// coordinators counts the nodes of all of them (Scheduler.linkedNodes).
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { defaultPolicy, hasRefArg } from './default-policy.js';
import { freeCpus } from './node-index.js';
import { policyOf } from './placement-rules.js';

/** A node is packed while its tasks are fewer than this share of what its depth allows (Ray: 0.5). */
export const PACK_THRESHOLD = 0.5;
/** Meshes of more nodes than this are packed. */
export const PACK_ABOVE = 256;

/**
 * Whether `t` may be packed: a plain task of the default policy. Spread and
 * affinity name their nodes, ref arguments pull a task to their holders
 * (locality), actors and verified replicas are placed by their own rules.
 */
export function packable(t: TaskRecord): boolean {
  return policyOf(t) === defaultPolicy && !t.spec.actor && !t.replicas && !hasRefArg(t);
}

/** Whether `n` is below the threshold for a task of depth `depth` (tasks per CPU). */
export function belowThreshold(n: NodeRecord, depth: number): boolean {
  return n.inflightTasks < PACK_THRESHOLD * Math.max(1, freeCpus(n)) * depth;
}

/**
 * The node the scheduler packs plain tasks onto: the last one the default
 * policy chose for one, while it stays below the threshold and has room. A
 * constant cost a task: no walk, no heap.
 */
export class Packing {
  private warm: NodeRecord | null = null;
  /** Tasks placed on the warm node (for /api/stats and tests). */
  filled = 0;

  constructor(
    /** Nodes in the mesh now (the other coordinators' too). */
    private readonly size: () => number,
    private readonly alive: (n: NodeRecord) => boolean,
    private readonly fits: (n: NodeRecord, t: TaskRecord) => boolean,
    private readonly depth: (t: TaskRecord) => number,
  ) {}

  /** The warm node for plain task `t`, or null (the policy picks, and its choice may become warm). */
  pick(t: TaskRecord): NodeRecord | null {
    const n = this.warm;
    if (!n || this.size() <= PACK_ABOVE) return null;
    if (this.alive(n) && belowThreshold(n, this.depth(t)) && this.fits(n, t)) {
      this.filled++;
      return n;
    }
    this.warm = null;
    return null;
  }

  /**
   * The policy placed plain task `t` on `n`: plain tasks after it fill `n` first. Not another coordinator (a link,
   * coordinator/mesh): it runs what it is given on its own nodes and reports back fast, so it stayed below the
   * threshold and took 80-100% of a job while our own nodes idled (issue 14, session 17); it gets what the policy
   * gives it (least loaded per CPU), and its frames are batched by the link (coordinator/mesh/bus.ts LINK_FLUSH_MS).
   */
  chose(n: NodeRecord): void {
    if (n.link === undefined) this.warm = n;
  }

  /** `n` left the mesh. */
  removed(n: NodeRecord): void {
    if (this.warm === n) this.warm = null;
  }
}
