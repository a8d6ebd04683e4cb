// The global scheduler: tasks whose arguments are ready wait in queues, one
// per scheduling class (function, resources, policy), and are placed on nodes
// once per event-loop turn. A node is sent more tasks than it has CPUs when
// the function is short (pipelining), so that it never waits on a round trip.
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { affinityPolicy } from './affinity-policy.js';
import { defaultPolicy } from './default-policy.js';
import type { PlacementContext, PlacementPolicy } from './policy.js';
import { spreadPolicy } from './spread-policy.js';

/** How much work (ms) to keep queued per CPU on a node. */
const PIPELINE_MS = 10;
const MAX_DEPTH = 64;
/** Depth for a function not yet measured. */
const UNKNOWN_DEPTH = 2;

class ClassQueue {
  items: TaskRecord[] = [];
  head = 0;
  /** Moves past the head, dropping the reference: a finished task must not stay reachable from here. */
  private clearHead(): void {
    (this.items as (TaskRecord | undefined)[])[this.head++] = undefined;
  }
  get size(): number {
    return this.items.length - this.head;
  }
  peek(): TaskRecord | undefined {
    while (this.head < this.items.length && this.items[this.head].state !== 'queued') this.clearHead();
    return this.items[this.head];
  }
  shift(): void {
    this.clearHead();
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

export class Scheduler {
  private readonly classes = new Map<string, ClassQueue>();
  private scheduled = false;
  private readonly ctx: PlacementContext;
  /** Node list in join order, kept by membership. */
  nodeList: NodeRecord[] = [];
  /** The head of a queue found no node this pass (feasibility.ts says why, when it is not just busy). */
  onStuck: (key: string, head: TaskRecord, nodes: readonly NodeRecord[], queued: () => Iterable<TaskRecord>) => void = () => {};

  constructor(
    private readonly gcs: Gcs,
    private readonly assign: (t: TaskRecord, n: NodeRecord) => void,
    /** A task that can never be placed (pinned to a node that is gone). */
    private readonly unplaceable: (t: TaskRecord, why: string) => void = () => {},
  ) {
    this.ctx = {
      gcs,
      nodes: this.nodeList,
      fits: (n, t) => this.fits(n, t),
      // Replicas of a verified task never share a node (issue 8).
      feasible: (n, t) => !t.replicas?.used.has(n.id) && feasible(n, t),
    };
  }

  setNodes(nodes: NodeRecord[]): void {
    this.nodeList = nodes;
    this.ctx.nodes = nodes;
    this.soon();
  }

  enqueue(t: TaskRecord, front = false): void {
    t.state = 'queued';
    const key = classKey(t);
    let q = this.classes.get(key);
    if (!q) this.classes.set(key, (q = new ClassQueue()));
    if (front) {
      if (q.head > 0) q.items[--q.head] = t;
      else q.items.unshift(t);
    } else q.items.push(t);
    this.soon();
  }

  /** Places queued tasks at the end of this turn (or sooner, through runPending). */
  soon(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.runPending());
  }

  /** Runs a placement pass if one is due: called after each incoming frame, saving a turn of latency. */
  runPending(): void {
    if (!this.scheduled) return;
    this.scheduled = false;
    this.run();
  }

  /** Tasks waiting for a node (walks the queues: for stats, not the hot path). */
  get queuedCount(): number {
    let n = 0;
    for (const q of this.classes.values()) for (let i = q.head; i < q.items.length; i++) if (q.items[i].state === 'queued') n++;
    return n;
  }

  run(): void {
    if (this.nodeList.length === 0) {
      for (const [key, q] of this.classes) {
        const head = q.peek();
        if (head) this.onStuck(key, head, this.nodeList, () => q.items.slice(q.head));
      }
      return;
    }
    for (const [key, q] of this.classes) {
      const pinned = pinnedToMissingNode(q.peek(), this.gcs);
      if (pinned) {
        for (let t = q.peek(); t; t = q.peek()) {
          q.shift();
          this.unplaceable(t, `it is pinned (node affinity, not soft) to node ${pinned}, which is not in the mesh`);
        }
      }
      for (let t = q.peek(); t; t = q.peek()) {
        const node = policyOf(t).pick(t, this.ctx);
        if (!node) {
          this.onStuck(key, t, this.nodeList, () => q.items.slice(q.head));
          break;
        }
        q.shift();
        this.assign(t, node);
      }
      if (q.size === 0) this.classes.delete(key);
    }
  }

  /** Tasks per CPU a node may hold for this function. */
  depth(t: TaskRecord): number {
    const f = this.gcs.functions.get(t.spec.fnId);
    if (!f || f.runs < 3) return UNKNOWN_DEPTH;
    return Math.max(1, Math.min(MAX_DEPTH, Math.floor(PIPELINE_MS / Math.max(f.ewmaMs, 0.005))));
  }

  fits(n: NodeRecord, t: TaskRecord): boolean {
    if (t.replicas?.used.has(n.id)) return false;
    const req = t.spec.resources;
    const cpus = n.resources.cpu ?? 0;
    const depth = this.depth(t);
    for (const r in req) {
      const want = req[r];
      if (want === 0) continue;
      const have = n.resources[r] ?? 0;
      if (want > have) return false;
      if (r === 'cpu') {
        // Live actors hold their CPUs outright; only the rest is pipelined.
        const free = cpus - n.actorCpu;
        if (t.spec.actor?.kind === 'create') {
          if ((n.inflight.cpu ?? 0) + want > cpus) return false; // an actor needs a CPU of its own now
        } else if ((n.inflight.cpu ?? 0) - n.actorCpu + want > free * depth) return false;
      } else if ((n.inflight[r] ?? 0) + want > have) return false;
    }
    // Zero-CPU tasks still take a place in the node's queue.
    return n.inflightTasks < Math.max(1, cpus) * depth + 16;
  }

  static charge(n: NodeRecord, t: TaskRecord, sign: 1 | -1): void {
    for (const r in t.spec.resources) n.inflight[r] = (n.inflight[r] ?? 0) + sign * t.spec.resources[r];
    n.inflightTasks += sign;
  }
}

function pinnedToMissingNode(t: TaskRecord | undefined, gcs: Gcs): string | null {
  const s = t?.spec.scheduling;
  if (typeof s !== 'object' || s === null || s.soft || gcs.nodes.has(s.node)) return null;
  return s.node;
}

function feasible(n: NodeRecord, t: TaskRecord): boolean {
  for (const r in t.spec.resources) if (t.spec.resources[r] > (n.resources[r] ?? 0)) return false;
  return true;
}

function policyOf(t: TaskRecord): PlacementPolicy {
  const s = t.spec.scheduling;
  if (s === 'spread') return spreadPolicy;
  if (typeof s === 'object' && s !== null) return affinityPolicy;
  return defaultPolicy;
}

function classKey(t: TaskRecord): string {
  const s = t.spec;
  let key: string = s.fnId;
  for (const r in s.resources) key += `|${r}=${s.resources[r]}`;
  const sch = s.scheduling;
  if (sch === 'spread') key += '|spread';
  else if (typeof sch === 'object' && sch !== null) key += `|node=${sch.node}${sch.soft ? '~' : ''}`;
  // A replica that no free node may take must not hold up other tasks of its class.
  if (t.replicas) key += `|replica=${s.taskId}`;
  return key;
}
