// Work stealing between nodes (issue 14). The scheduler fills a node's queue
// up to its pipelining depth (up to 64 tasks per CPU for short functions), so
// once a job's tasks are all out, a node that joins, or one that finished its
// share early, would get nothing while others still hold queues. After a pass
// that left nothing queued, when some node has a CPU free, the rebalancer
// samples nodes at random (the index spreads load evenly, so a sample shows
// the typical queue: power of k choices) and asks those above the level to hand back
// tasks they have not started (`giveBack`; the node answers `handBack`, which
// re-queues them at the front with the same attempt: nothing ran). The next
// pass places them on the least loaded nodes, the idle ones. A round costs a
// constant, whatever the size of the mesh, and rounds are REBALANCE_MS apart.
// A node whose spare tasks are less than ASK_MIN_MS of work is not asked.
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord } from '../gcs/tables.js';
import { freeCpus, type NodeIndex } from './node-index.js';

/** Rounds are at least this far apart: a node's answer takes a round trip, and a round must not ask twice for the same gap. */
export const REBALANCE_MS = 100;
/** Nodes sampled per round (and asked at most): enough that 10% newcomers in a mesh of 10,000 fill in a few rounds. */
export const SAMPLE = 1024;
/** Idle nodes counted per round (their free CPUs size what is asked for). */
export const IDLE_LIMIT = 256;
/**
 * A node is asked only when what it holds past the level is at least this much work (its tasks' measured
 * run time): a moved task costs a round trip to the node and one to the newcomer, and a node holding
 * 64 empty tasks per CPU runs them sooner than they could move (at 10,000 nodes 7% of a job of empty
 * tasks was asked back, undoing the packing of frames).
 */
export const ASK_MIN_MS = 10;

export interface RebalanceStats {
  rounds: number;
  /** Tasks asked for (nodes give back what has not started by the time they hear). */
  asked: number;
}

export class Rebalancer {
  private last = -Infinity;
  readonly stats: RebalanceStats = { rounds: 0, asked: 0 };
  /**
   * Whether an idle node could take tasks others hand back. Another coordinator
   * (a link, coordinator/mesh) runs only plain tasks of this one's own jobs: on a
   * coordinator running only guest tasks, an idle link made its only node hand
   * back tasks that could go nowhere else (issue 15).
   */
  canTake: (n: NodeRecord) => boolean = () => true;

  constructor(
    private readonly index: NodeIndex,
    private readonly ask: (n: NodeRecord, count: number) => void,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = () => performance.now(),
    /** What one of a node's unstarted tasks is expected to take (ms); Infinity when not known (asked as if long). */
    private readonly taskMs: (n: NodeRecord) => number = () => Infinity,
  ) {}

  /** Called after a pass that left nothing queued: one round, unless one ran less than REBALANCE_MS ago. */
  check(): void {
    const now = this.now();
    if (now - this.last < REBALANCE_MS) return;
    this.last = now;
    const idle = this.index.idle(IDLE_LIMIT).filter(this.canTake);
    if (idle.length === 0) return;
    const sample = this.sampled;
    const count = this.index.sampleInto(SAMPLE, this.random, sample);
    try {
      this.askFor(idle, sample, count);
    } finally {
      // No node is kept past its round (one that left would stay reachable from here).
      sample.fill(null, 0, count);
    }
  }
  /** The round's sample, one array for every round (join-order.ts sampleInto). */
  private readonly sampled: (NodeRecord | null)[] = [];

  /** Asks the first `count` nodes of `sample` for what they hold past the sample's level, up to what the `idle` nodes lack. */
  private askFor(idle: NodeRecord[], sample: readonly (NodeRecord | null)[], count: number): void {
    let tasks = 0;
    let cpus = 0;
    for (let i = 0; i < count; i++) {
      const n = sample[i]!;
      tasks += n.inflightTasks;
      cpus += freeCpus(n);
    }
    // The level every node would hold if the sample's tasks were shared evenly (per free CPU).
    const level = cpus > 0 ? tasks / cpus : 0;
    let want = 0;
    for (const n of idle) want += Math.max(0, Math.floor(freeCpus(n) * Math.max(1, level)) - n.inflightTasks);
    if (want === 0) return;
    let asked = false;
    // The sample is in random order: no node is favoured.
    for (let i = 0; i < count; i++) {
      const n = sample[i]!;
      const spare = this.spare(n, level);
      if (spare <= 0 || spare * this.taskMs(n) < ASK_MIN_MS) continue;
      const k = Math.min(want, spare);
      this.ask(n, k);
      asked = true;
      this.stats.asked += k;
      want -= k;
      if (want === 0) break;
    }
    if (asked) this.stats.rounds++;
  }

  /**
   * Tasks a node holds past the level, never those its free CPUs run now.
   * Rounded at random (up with the probability of the fraction): when many
   * nodes each hold a fraction of a task too many, the right number give one.
   */
  private spare(n: NodeRecord, level: number): number {
    const free = freeCpus(n);
    if (free === 0) return 0;
    return Math.max(0, Math.floor(n.inflightTasks - free * Math.max(1, level) + this.random()));
  }
}

/**
 * What one of `n`'s tasks is expected to take (ms), from its oldest: its function's measured run time, or how long
 * it has been running if longer (a function measured short can turn long); Infinity while the function is unmeasured.
 */
export function oldestTaskMs(gcs: Gcs, n: NodeRecord): number {
  const t = n.tasks.values().next().value;
  if (!t) return 0;
  const f = gcs.functions.get(t.spec.fnId);
  const measured = f && f.runs >= 3 ? f.ewmaMs : Infinity;
  return Math.max(measured, t.state === 'running' ? Date.now() - t.startedAt : 0);
}
