// The global scheduler: tasks whose arguments are ready wait in queues, one
// per scheduling class (function, resources, policy), and are placed on nodes
// once per event-loop turn. A node is sent more tasks than it has CPUs when
// the function is short (pipelining), so that it never waits on a round trip.
// Placement goes through the node index (node-index.ts), so its cost does not
// grow with the mesh; a pass is time-sliced (issue 14): after PASS_TASKS
// placements or PASS_MS, assignments go out, the event loop serves sockets
// and HTTP, and the pass goes on in the next turn, from the class it left.
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import type { PlacementContext } from './policy.js';
import { NodeIndex, touchNode } from './node-index.js';
import { charge } from '../nodes/load.js';
import { loopBudget } from '../loop-budget.js';
import { oldestTaskMs, Rebalancer, stalledIn } from './rebalance.js';
import { countedWaiting, queued } from './task-states.js';
import { ClassQueue, classKey } from './class-queue.js';
import { feasible, policyOf, settlePins, takesHandedBack } from './placement-rules.js';
import { depth, fits } from './room.js';
import { packable, Packing } from './packing.js';
import { TURN_NODES, TurnNodes } from './turn-nodes.js';
import { LinkRule } from './link-rule.js';
export { TURN_NODES } from './turn-nodes.js';

/** A pass places at most this many tasks, or works at most PASS_MS, before the loop yields. */
export const PASS_TASKS = 2000;
export const PASS_MS = 8;
/**
 * A pass reads the clock every this many placements (a power of 2). Every 64 let a pass run 64 placements past its
 * budget: a placement's assign may close a full frame (256 messages: an encode and a socket write) or carry a
 * function's source, and at 10,000 nodes a turn's first placements each start a node's frame (issue 14, session 22).
 */
export const PASS_CHECK = 8;

export class Scheduler {
  private readonly classes = new Map<string, ClassQueue>();
  /**
   * Tasks in some class queue still in state 'queued', counted once each (a flag on the record: task-states.ts
   * countedWaiting). A set of records was ~2.5% of the coordinator's busy samples in bench:tasks (a hash a task in, one out).
   */
  private waitingCount = 0;
  private readonly uncount = (t: TaskRecord): void => {
    if (countedWaiting(t, false)) this.waitingCount--;
  };
  private scheduled = false;
  /** A pass stopped at its budget: the rest waits for the next turn (frames arriving meanwhile do not resume it). */
  private yielded = false;
  /** The class a time-sliced pass stopped at: the next pass starts there (no class starves). */
  private resumeAt: string | null = null;
  private readonly ctx: PlacementContext;
  /** The context of a retry's first pick: nodes overdue (silent past their keepalive window) do not fit. */
  private readonly heardCtx: PlacementContext;
  /** Nodes alive, by resource shape and load. */
  readonly index = new NodeIndex();
  /** Passes cut short by their budget (for /api/stats and tests). */
  slicedPasses = 0;
  /** Nodes given work this turn (at most TURN_NODES a turn; turn-nodes.ts). */
  private readonly turn: TurnNodes;
  /** Tasks placed on a node already given work this turn, because the turn had reached TURN_NODES (for /api/stats and tests). */
  get packed(): number {
    return this.turn.packed;
  }
  /**
   * Nodes of the other coordinators of the mesh, behind their links (coordinator/mesh: from their records): a job
   * here reaches them too, so the mesh's size, not ours alone, says whether to pack. Two coordinators of 150 nodes
   * each packed nothing (at most PACK_ABOVE of their own) and sent 1.5 tasks a node frame where one coordinator of the
   * same 300 nodes sent 13 to 25 (issue 14, session 17).
   */
  linkedNodes = 0;
  /** Other coordinators of the mesh, each a node of ours (coordinator/mesh): a few, looked at for each plain task. Read-only outside. */
  readonly links = new Set<NodeRecord>();
  /** Whether a node is silent past its keepalive window and a beat (membership.ts overdue): likely starved. */
  overdue: (n: NodeRecord) => boolean = () => false;
  /** Our own nodes' tasks in flight per CPU (membership's running totals, coordinator/nodes/totals.ts): a link's share. */
  ownLoadPerCpu: () => number = () => Infinity;
  /** Which link a plain task goes to; tasks a link gave back (link-rule.ts). */
  private readonly linkRule = new LinkRule(this.links, () => this.ownLoadPerCpu());
  /** Plain tasks fill a node already given work up to a threshold before the next is touched (packing.ts). */
  readonly packing = new Packing(
    () => this.index.size + this.linkedNodes,
    (n) => this.index.has(n),
    (n, t) => this.fits(n, t),
    (t) => this.depth(t),
  );
  /** Work stealing for nodes that joined or went idle while others hold queues (rebalance.ts). */
  readonly rebalancer = new Rebalancer(
    this.index,
    (n, count) => this.askBack(n, count),
    Math.random,
    undefined,
    (n) => oldestTaskMs(this.gcs, n),
  );
  /** Asks node `n` to hand back up to `count` tasks it has not started (the coordinator sends `giveBack`). */
  askBack: (n: NodeRecord, count: number) => void = () => {};
  /** The head of a queue found no node this pass (feasibility.ts says why, when it is not just busy); `nodes` is walked only then. */
  onStuck: (key: string, head: TaskRecord, nodes: () => readonly NodeRecord[], queued: () => Iterable<TaskRecord>) => void = () => {};
  /** Task groups' members (coordinator/groups) placed in each pass, first, until `deadline` (false: cut); null: groups off. */
  groupPass: ((deadline: number) => boolean) | null = null;
  /** Told of each node added to (true) or removed from the index (task groups keep their own list). */
  onNode: (n: NodeRecord, added: boolean) => void = () => {};
  /** The head of a queue is hard-pinned to a node away (gcs.nodeAway: a live coordinator's link that is down). */
  onPinAway: (head: TaskRecord) => void = () => {};

  constructor(
    private readonly gcs: Gcs,
    private readonly assign: (t: TaskRecord, n: NodeRecord) => void,
    /** A task that can never be placed (pinned to a node that is gone). */
    private readonly unplaceable: (t: TaskRecord, why: string) => void = () => {},
  ) {
    this.rebalancer.canTake = takesHandedBack(gcs);
    this.rebalancer.links = () => this.links;
    this.rebalancer.again = () => this.soon();
    this.rebalancer.lookAgainIn = (n) => stalledIn(this.gcs, n);
    this.ctx = {
      gcs,
      index: this.index,
      fits: (n, t) => this.fits(n, t),
      // Replicas of a verified task never share a node (issue 8).
      // A link that gave a task back never takes it again (fits()): for a soft affinity naming that link it is as
      // infeasible, so the task goes elsewhere instead of waiting for the link for good (test/redis/mesh-give-back).
      feasible: (n, t) => !t.replicas?.used.has(n.id) && !this.linkRule.refuses(n, t) && feasible(n, t),
    };
    this.heardCtx = { ...this.ctx, fits: (n, t) => !this.overdue(n) && this.fits(n, t) };
    this.turn = new TurnNodes(
      this.ctx,
      (n) => this.index.has(n),
      (t) => this.depth(t),
    );
  }

  /** `t` came back from `link` (tasks.ts handBack): it goes to no link again unless pinned to that one (link-rule.ts). */
  backFromLink(t: TaskRecord, link: NodeRecord): void {
    this.linkRule.backFromLink(t, link);
  }

  /** Nodes alive, in join order (a copy, not for hot paths). */
  get nodeList(): NodeRecord[] {
    return this.index.list();
  }

  addNode(n: NodeRecord): void {
    this.index.add(n);
    this.onNode(n, true);
    if (n.link !== undefined) this.links.add(n);
    this.soon();
  }

  removeNode(n: NodeRecord): void {
    this.index.remove(n);
    this.onNode(n, false);
    this.links.delete(n);
    this.packing.removed(n);
  }

  /** Makes the index hold exactly `nodes` (tests and tools; membership calls addNode/removeNode). */
  setNodes(nodes: NodeRecord[]): void {
    const keep = new Set(nodes);
    for (const n of this.index.list()) if (!keep.has(n)) this.index.remove(n);
    for (const n of nodes) this.index.add(n);
    this.links.clear();
    for (const n of nodes) if (n.link !== undefined) this.links.add(n);
    this.soon();
  }

  /** A node's load or resources changed outside charge(): re-file it. */
  touch(n: NodeRecord): void {
    this.index.touch(n);
    this.soon();
  }

  /** Whether some node of the mesh could ever run `t` (its resources exist somewhere); no scan. */
  feasibleAnywhere(t: TaskRecord): boolean {
    return this.index.feasibleAnywhere(t);
  }

  enqueue(t: TaskRecord, front = false): void {
    queued(t);
    const key = classKey(t);
    let q = this.classes.get(key);
    if (!q) this.classes.set(key, (q = new ClassQueue(this.uncount)));
    if (countedWaiting(t, true)) this.waitingCount++;
    if (front) q.pushAgain(t);
    else q.push(t);
    this.soon();
  }

  /** Places queued tasks at the end of this turn (or sooner, through runPending). */
  soon(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // One end-of-turn callback at a time: runPending after each frame clears `scheduled`, and the next frame's
    // soon() scheduled another immediate (and a closure) while the first was still pending: at 10,000 nodes
    // soon() was 8.5% of the coordinator's sampled allocation in a 100k job (session 16).
    if (this.turnEndPending) return;
    this.turnEndPending = true;
    setImmediate(this.turnEnd);
  }

  private turnEndPending = false;
  private readonly turnEnd = (): void => {
    this.turnEndPending = false;
    this.yielded = false;
    this.runPending();
  };

  /** Set when the coordinator closes: a pass still due (an end-of-turn callback pending) does nothing then. */
  private stopped = false;

  /** No more passes: the GCS they write to is closing (a pending end-of-turn pass threw CLOSED into the loop). */
  stop(): void {
    this.stopped = true;
  }

  /** Runs a placement pass if one is due: called after each incoming frame, saving a turn of latency. */
  runPending(): void {
    if (!this.scheduled || this.yielded || this.stopped) return;
    this.scheduled = false;
    const now = performance.now(); // PASS_MS, and not past the loop iteration's budget but its floor (loop-budget.ts)
    this.run({ tasks: PASS_TASKS, ms: loopBudget.until(PASS_MS, now) - now, nodes: TURN_NODES });
    loopBudget.done();
  }

  /** Tasks waiting for a node: O(1) (issue 14: /api/stats and the dashboard read it often). */
  get queuedCount(): number {
    return this.waitingCount;
  }

  /**
   * A queued task leaves the queued state outside a pass (cancelled, failed,
   * its job ended): it stops counting now; its queue entry is skipped later.
   */
  left(t: TaskRecord): void {
    this.uncount(t);
  }

  /**
   * One placement pass over the classes, from where the last sliced pass
   * stopped. Returns false when it stopped at its budget (the rest follows
   * in the next turn), true when every class is placed or blocked.
   */
  run(budget: { tasks: number; ms: number; nodes?: number } = { tasks: Infinity, ms: Infinity }): boolean {
    if (this.groupPass !== null && this.index.size > 0 && !this.groupPass(performance.now() + budget.ms)) return this.cutShort();
    if (this.classes.size === 0) {
      this.rebalancer.check();
      return true;
    }
    if (this.index.size === 0) {
      for (const [key, q] of this.classes) {
        // Pins to a node gone fail, and to one away warn, here too (a coordinator whose nodes are all another's).
        settlePins(q, this.gcs, this.unplaceable, this.onPinAway);
        const head = q.peek();
        if (head) this.onStuck(key, head, this.liveNodes, () => q.list());
        else this.classes.delete(key);
      }
      return true;
    }
    const keys = [...this.classes.keys()];
    const from = this.resumeAt === null ? 0 : Math.max(0, keys.indexOf(this.resumeAt));
    this.resumeAt = null;
    const deadline = performance.now() + budget.ms;
    // A mesh larger than the node budget: a turn writes to at most that many nodes.
    const nodeCap = this.index.size > (budget.nodes ?? Infinity) ? budget.nodes! : Infinity;
    let placed = 0;
    // Budget spent: assignments go out with this turn, the loop serves others, the pass goes on next turn.
    const cut = (key: string): false => {
      this.resumeAt = key;
      return this.cutShort();
    };
    for (let k = 0; k < keys.length; k++) {
      const key = keys[(from + k) % keys.length];
      const q = this.classes.get(key);
      if (!q) continue;
      settlePins(q, this.gcs, this.unplaceable, this.onPinAway);
      for (let t = q.peek(); t; t = q.peek()) {
        if (placed >= budget.tasks || ((placed & (PASS_CHECK - 1)) === PASS_CHECK - 1 && performance.now() > deadline)) return cut(key);
        let node: NodeRecord | null;
        if (this.turn.size >= nodeCap) {
          node = this.turn.pick(t);
          if (!node) return cut(key);
        } else {
          // Plain tasks fill the node last chosen for one up to the threshold, then spread (packing.ts).
          const plain = packable(t);
          const retry = t.spec.attempt > 0;
          node = (plain ? (this.linkRule.linkFor(t, this.fitsNode) ?? (retry ? null : this.packing.pick(t))) : null) ?? this.pick(t, retry);
          if (!node) {
            this.onStuck(key, t, this.liveNodes, () => q.list());
            break;
          }
          if (plain) this.packing.chose(node);
        }
        q.shift();
        this.assign(t, node);
        this.turn.gaveWork(node);
        placed++;
      }
      if (q.size === 0) this.classes.delete(key);
    }
    // Whatever is still queued fits no node now: nodes with a CPU free may take others' queued tasks.
    this.rebalancer.check();
    return true;
  }

  private cutShort(): false {
    this.slicedPasses++;
    this.yielded = true;
    this.soon();
    return false;
  }

  private readonly fitsNode = (n: NodeRecord, t: TaskRecord): boolean => this.fits(n, t);

  /**
   * Where `t`'s policy places it. A retry (its last run lost on a node, most likely a starved one, or thrown) goes
   * to a node heard from lately when one has room, else where it would have: a second pick only for retries, each
   * as bounded as the first (node-index.ts), so placement's cost stays flat in the number of nodes.
   */
  private pick(t: TaskRecord, retry: boolean): NodeRecord | null {
    const policy = policyOf(t);
    return (retry ? policy.pick(t, this.heardCtx) : null) ?? policy.pick(t, this.ctx);
  }

  private readonly liveNodes = (): readonly NodeRecord[] => [...this.gcs.nodes.values()];

  /** Tasks per CPU a node may hold for this function. */
  depth(t: TaskRecord): number {
    return depth(this.gcs, t);
  }

  fits(n: NodeRecord, t: TaskRecord): boolean {
    // A task a link gave back goes to none: with our idle node and the empty link both at load 0, it bounced.
    if (this.linkRule.refuses(n, t)) return false;
    return fits(this.gcs, n, t);
  }

  /** A task's resources count on its node (+1) or no longer (-1): nodes/load.ts writes node records. */
  static charge(n: NodeRecord, t: TaskRecord, sign: 1 | -1): void {
    charge(n, t, sign);
  }

  /** A node's load changed outside charge() (a blocked task, an actor holding its CPU): its index re-files it. */
  static touch(n: NodeRecord): void {
    touchNode(n);
  }
}
