// The nodes a turn's placement passes gave work to (issue 14): each is a frame
// and a socket write at the end of the turn. Past TURN_NODES of them, a pass
// fills the nodes it already gave work to, up to their pipelining depth (plain
// tasks only), or stops until the next turn.
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { PlacementContext } from './policy.js';
import { policyOf } from './placement-rules.js';
import { belowThreshold, packable } from './packing.js';
import { traffic } from '../traffic.js';

/**
 * Distinct nodes the passes of one turn give work to, at most. Meshes of at
 * most this many nodes never meet it.
 */
export const TURN_NODES = 256;

export class TurnNodes {
  /** Nodes given work this turn, whose frames are not out yet: more work for them costs no more writes. */
  private readonly nodes = new Set<NodeRecord>();
  private list: NodeRecord[] = [];
  private packAt = 0;
  /** Tasks placed on a node already given work this turn, because the turn had reached TURN_NODES (for /api/stats and tests). */
  packed = 0;

  constructor(
    private readonly ctx: PlacementContext,
    private readonly alive: (n: NodeRecord) => boolean,
    private readonly depth: (t: TaskRecord) => number,
  ) {}

  /** Nodes given work this turn so far. */
  get size(): number {
    return this.nodes.size;
  }

  /** `n` was given work: the first node of a turn starts the turn's count, which the next turn clears. */
  gaveWork(n: NodeRecord): void {
    if (this.nodes.has(n)) return;
    if (this.nodes.size === 0) {
      setImmediate(() => {
        this.nodes.clear();
        this.list = [];
        this.packAt = 0;
      });
    }
    this.nodes.add(n);
    this.list.push(n);
    traffic.nodeTurns++;
  }

  /**
   * The turn gave work to TURN_NODES nodes already: a node among them for `t`,
   * or null (the pass waits for the next turn). A plain task goes to the next
   * of them, round robin, that is below the packing threshold (packing.ts: half
   * what its depth allows, so an unmeasured or long task is not doubled up on
   * a node while others idle); a task whose policy names its node (spread,
   * affinity, locality, an actor) goes there only if that node is among them.
   */
  pick(t: TaskRecord): NodeRecord | null {
    if (!packable(t)) {
      const n = policyOf(t).pick(t, this.ctx);
      return n && this.nodes.has(n) ? n : null;
    }
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const n = list[this.packAt];
      this.packAt = (this.packAt + 1) % list.length;
      if (this.alive(n) && belowThreshold(n, this.depth(t)) && this.ctx.fits(n, t)) {
        this.packed++;
        return n;
      }
    }
    return null;
  }
}
