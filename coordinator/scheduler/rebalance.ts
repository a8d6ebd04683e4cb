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
// Links (other coordinators, coordinator/mesh) are asked apart, for all they
// hold, when our own nodes are idle: we never see which of a link's tasks run
// (its CPUs may be busy with its own jobs), so it hands back what has not
// started (coordinator/mesh/give-back.ts).
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord } from '../gcs/tables.js';
import { freeCpus, type NodeIndex } from './node-index.js';
import { movableOnLink } from './placement-rules.js';

/** Rounds are at least this far apart: a node's answer takes a round trip, and a round must not ask twice for the same gap. */
export const REBALANCE_MS = 100;
/**
 * After a round that sampled and found nothing worth asking, the next waits twice as long, up to this: a job of
 * short tasks over 20,000 nodes leaves most of them idle, and a futile round every 100 ms was 5% of the
 * coordinator's CPU (the sample and the idle walk; issue 14, session 18). A round that asks sets it back.
 */
export const REBALANCE_MAX_MS = 800;
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

/**
 * A node's task group members must go this long without one ending before the gap counts as their run time
 * (oldestTaskMs). A shorter gap is a node's report still on its way: under load that takes tens of ms, and counted
 * as run time it made nodes holding spare members of an empty function look slow: bench:scale at 100 nodes under
 * load asked 460-840 members back a 20,000-task job, and node frames out carried 17-25 tasks instead of 63 (issue 14,
 * session 35). A round that finds a node not asked only because its gap is shorter looks again once it would reach
 * this (Rebalancer.lookAgainIn): a node whose members stopped ending is asked this much later, not never.
 */
export const STALLED_MS = 200;

export interface RebalanceStats {
  rounds: number;
  /** Tasks asked for (nodes give back what has not started by the time they hear). */
  asked: number;
  /** Of those, asked of links (other coordinators). */
  askedLinks: number;
}

export class Rebalancer {
  private last = -Infinity;
  readonly stats: RebalanceStats = { rounds: 0, asked: 0, askedLinks: 0 };
  /**
   * Whether an idle node could take tasks others hand back. Another coordinator
   * (a link, coordinator/mesh) runs only plain tasks of this one's own jobs: on a
   * coordinator running only guest tasks, an idle link made its only node hand
   * back tasks that could go nowhere else (issue 15).
   */
  canTake: (n: NodeRecord) => boolean = () => true;
  /** The links (other coordinators of the mesh, each a node of ours): a few. */
  links: () => Iterable<NodeRecord> = () => [];
  /** Asks for a pass later: a check that came too soon after a round looks again once REBALANCE_MS passed. */
  again: () => void = () => {};
  private againTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * In how many ms node `n`, not worth asking now, may be (its group members' gap reaching STALLED_MS: stalledIn);
   * Infinity when waiting changes nothing.
   */
  lookAgainIn: (n: NodeRecord) => number = () => Infinity;
  /** The soonest a node of the last round may become worth asking (ms from its round), or Infinity. */
  private soonest = Infinity;
  /** Rounds in a row that asked nothing (at most 3 counted: REBALANCE_MAX_MS). */
  private futile = 0;

  constructor(
    private readonly index: NodeIndex,
    private readonly ask: (n: NodeRecord, count: number) => void,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = () => performance.now(),
    /** What one of a node's unstarted tasks is expected to take (ms); Infinity when not known (asked as if long). */
    private readonly taskMs: (n: NodeRecord) => number = () => Infinity,
  ) {}

  /** Called after a pass that left nothing queued: one round, unless one ran less than REBALANCE_MS ago (more after futile rounds). */
  check(): void {
    const now = this.now();
    const gap = Math.min(REBALANCE_MAX_MS, REBALANCE_MS * 2 ** this.futile);
    if (now - this.last < gap) {
      // Our last node to go idle may do so right after a round: without another look, a link's tasks wait there.
      this.lookAgain(gap - (now - this.last));
      return;
    }
    this.last = now;
    const idle = this.index.idle(IDLE_LIMIT).filter(this.canTake);
    if (idle.length === 0) return;
    const sample = this.sampled;
    const count = this.index.sampleInto(SAMPLE, this.random, sample);
    this.soonest = Infinity;
    try {
      const asked = this.askFor(idle, sample, count);
      this.futile = asked ? 0 : Math.min(3, this.futile + 1);
      // A node soon worth asking: a pass then, whatever else happens (its round comes at the gap's end if later).
      if (!asked && Number.isFinite(this.soonest)) this.lookAgain(Math.max(REBALANCE_MS, Math.ceil(this.soonest)));
    } finally {
      // No node is kept past its round (one that left would stay reachable from here).
      sample.fill(null, 0, count);
    }
  }
  /** Another pass (and so another round) in `ms`, unless one is already asked for. */
  private lookAgain(ms: number): void {
    if (this.againTimer) return;
    this.againTimer = setTimeout(() => {
      this.againTimer = null;
      this.again();
    }, ms);
    this.againTimer.unref?.();
  }

  /** The round's sample, one array for every round (join-order.ts sampleInto). */
  private readonly sampled: (NodeRecord | null)[] = [];

  /** Asks the first `count` nodes of `sample` for what they hold past the sample's level, up to what the `idle` nodes lack. */
  private askFor(idle: NodeRecord[], sample: readonly (NodeRecord | null)[], count: number): boolean {
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
    let ownWant = 0;
    for (const n of idle) {
      const w = Math.max(0, Math.floor(freeCpus(n) * Math.max(1, level)) - n.inflightTasks);
      want += w;
      if (n.link === undefined) ownWant += w;
    }
    if (want === 0) return false;
    let asked = false;
    // The sample is in random order: no node is favoured.
    for (let i = 0; i < count; i++) {
      const n = sample[i]!;
      if (n.link !== undefined) continue; // below
      const spare = this.spare(n, level);
      if (spare <= 0) continue;
      if (spare * this.taskMs(n) < ASK_MIN_MS) {
        this.soonest = Math.min(this.soonest, this.lookAgainIn(n));
        continue;
      }
      const k = Math.min(want, spare);
      this.ask(n, k);
      asked = true;
      this.stats.asked += k;
      want -= k;
      ownWant = Math.max(0, ownWant - k);
      if (want === 0) break;
    }
    // Links, for our own idle nodes only: all they hold, at most what those lack; a link gives back what has not
    // started. Not when a CPU behind it holds less than ASK_MIN_MS of work (its nodes run it sooner than it moves).
    for (const n of this.links()) {
      if (ownWant <= 0) break;
      // Tasks pinned to the link are not asked for: they wait for it (its side never hands them back).
      const k = movableOnLink(n, Math.min(ownWant, n.inflightTasks));
      if (k <= 0 || (n.inflightTasks / Math.max(1, freeCpus(n))) * this.taskMs(n) < ASK_MIN_MS) continue;
      this.ask(n, k);
      asked = true;
      this.stats.asked += k;
      this.stats.askedLinks += k;
      ownWant -= k;
    }
    if (asked) this.stats.rounds++;
    return asked;
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
 * Task group members have no run of their own here: how long the node went without ending one, once that is
 * STALLED_MS or more (a shorter gap is a report on its way).
 */
export function oldestTaskMs(gcs: Gcs, n: NodeRecord): number {
  const t = n.tasks.values().next().value;
  if (!t) {
    // Only task groups' members (coordinator/groups): their function's measure, or how long none of them ended.
    if (!n.groupMembers || n.groupFn === undefined) return 0;
    const f = gcs.functions.get(n.groupFn);
    const measured = f && f.runs >= 3 ? f.ewmaMs : Infinity;
    const gap = memberGap(n);
    return gap >= STALLED_MS ? Math.max(measured, gap) : measured;
  }
  const f = gcs.functions.get(t.spec.fnId);
  const measured = f && f.runs >= 3 ? f.ewmaMs : Infinity;
  return Math.max(measured, t.state === 'running' ? Date.now() - t.startedAt : 0);
}

/**
 * In how many ms `n`'s task group members reach STALLED_MS without one ending (oldestTaskMs then counts the gap):
 * Infinity for a node that holds plain tasks, no members, or members of a function not measured (counted long
 * already), or whose gap is there.
 */
export function stalledIn(gcs: Gcs, n: NodeRecord): number {
  if (n.tasks.size > 0 || !n.groupMembers || n.groupFn === undefined) return Infinity;
  const f = gcs.functions.get(n.groupFn);
  if (!f || f.runs < 3) return Infinity;
  const left = STALLED_MS - memberGap(n);
  return left > 0 ? left : Infinity;
}

/** How long `n` went without a group member ending (since its first was placed, if none has). */
function memberGap(n: NodeRecord): number {
  return Date.now() - (n.groupSince ?? Date.now());
}
