// Plain tasks and the other coordinators of the mesh (issue 15): each is a node
// of ours (a link, coordinator/mesh) whose CPUs are its own nodes'. The
// scheduler asks here which link a plain task goes to, and whether a link may
// take a task at all (one it handed back never goes to a link again).
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { freeCpus } from './node-index.js';
import { pinnedTo } from './placement-rules.js';

export class LinkRule {
  /** Tasks a link handed back, asked by the rebalancer while our own nodes were idle: never placed on a link again. */
  private readonly fromLinks = new WeakSet<TaskRecord>();

  constructor(
    /** The links in the scheduler's index (Scheduler.links). */
    private readonly links: ReadonlySet<NodeRecord>,
    /** Our own nodes' tasks in flight per CPU (Scheduler.ownLoadPerCpu). */
    private readonly ownLoadPerCpu: () => number,
  ) {}

  /**
   * `t` came back from `link` (tasks.ts handBack): our own nodes take it, unless it is pinned to that link (not
   * `spill`): a pin waits for its node while the node lives (Ray's node affinity), so it goes back there.
   */
  backFromLink(t: TaskRecord, link: NodeRecord): void {
    if (!pinnedTo(t, link)) this.fromLinks.add(t);
  }

  /** Whether `n` is a link that gave `t` back (it takes it never again). */
  refuses(n: NodeRecord, t: TaskRecord): boolean {
    return n.link !== undefined && this.fromLinks.has(t);
  }

  /**
   * The link (another coordinator of the mesh) plain task `t` goes to: the least loaded per CPU of those whose
   * tasks per CPU are no more than our own nodes' average, with room; else null. Its CPUs are the other's nodes':
   * against the least loaded of ours (an idle node, 0) it came last whenever some node of ours was idle, and ran
   * 98 of 20,000 tasks (issue 14, session 17); against the average it holds its share, more when it drains faster.
   */
  linkFor(t: TaskRecord, fits: (n: NodeRecord, t: TaskRecord) => boolean): NodeRecord | null {
    if (this.links.size === 0) return null;
    const own = this.ownLoadPerCpu();
    let best: NodeRecord | null = null;
    let bestLoad = Infinity;
    for (const n of this.links) {
      const cpus = freeCpus(n);
      if (cpus <= 0) continue;
      const load = n.inflightTasks / cpus;
      if (load <= own && load < bestLoad && fits(n, t)) {
        best = n;
        bestLoad = load;
      }
    }
    return best;
  }
}
