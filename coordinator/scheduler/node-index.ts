// The scheduler's index of nodes (issue 14, ARCHITECTURE.md "Placement cost
// does not depend on the number of nodes"). Nodes are grouped by resource
// shape (what they offer: "cpu=2", "cpu=4,gpu=1"; a mesh has few shapes
// however many nodes), and each shape keeps a min-heap of its nodes by load
// (tasks per free CPU, then join order). A placement looks at the feasible
// shapes only and, in each, at the least loaded few nodes in heap order until
// one has room: its cost follows the number of shapes and a constant, not the
// number of nodes. A node's heap position moves when its load or shape changes
// (`touch`, called where those change), in O(log n).
import type { Session } from '../session.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { JoinOrder } from './join-order.js';
import { before, down, sameShape, shapeFits, shapeKey, up, type Entry, type Shape } from './shape-heap.js';
import { traffic } from '../traffic.js';
import { filedIn, unfiledFrom } from '../nodes/index-slot.js';

/**
 * How many of a shape's least loaded nodes a placement tries before it
 * gives up on that shape for now. Shapes of at most EXACT_BELOW nodes are
 * searched whole: small meshes get the exact least loaded node with room.
 */
export const CANDIDATES = 32;
export const EXACT_BELOW = 256;
/** Spread tries this many nodes past its cursor before it takes the least loaded node with room. */
export const SPREAD_SCAN = 64;

/** CPUs of a node that live actors do not hold. */
export function freeCpus(n: NodeRecord): number {
  return Math.max(0, (n.resources.cpu ?? 0) - n.actorCpu);
}

/** The load a node is filed under: tasks per CPU not held by actors (a node whose CPUs actors hold all goes last). */
export function indexLoad(n: NodeRecord): number {
  const cpus = n.resources.cpu ?? 0;
  const free = freeCpus(n);
  if (cpus > 0 && free === 0) return 1e9 + n.inflightTasks;
  return n.inflightTasks / Math.max(1, free);
}

/** The load or shape of `n` changed: its index re-files it. */
export function touchNode(n: NodeRecord): void {
  n.index?.touch(n);
}

export class NodeIndex {
  private readonly entries = new Map<NodeRecord, Entry>();
  private readonly shapes = new Map<string, Shape>();
  private readonly bySession = new Map<Session, NodeRecord>();
  /** Nodes in join order (spread's round robin, sampling, paging). */
  private readonly order = new JoinOrder<Entry>();
  private nextSeq = 0;
  /** Resources of the whole mesh, by kind: the most any one node offers (feasibility without a scan). */
  private readonly maxOf = new Map<string, number>();

  get size(): number {
    return this.entries.size;
  }

  has(n: NodeRecord): boolean {
    return this.entries.has(n);
  }

  /** Nodes in join order (a copy: for tests and tools, not the hot path). */
  list(): NodeRecord[] {
    return this.order.list().map((e) => e.node);
  }

  nodeOf(s: Session): NodeRecord | undefined {
    return this.bySession.get(s);
  }

  /** Join order, for ties. */
  seqOf(n: NodeRecord): number {
    return this.entries.get(n)?.seq ?? Infinity;
  }

  add(n: NodeRecord): void {
    if (this.entries.has(n)) return this.touch(n);
    const shape = this.shapeFor(n.resources);
    const e: Entry = { node: n, seq: this.nextSeq++, shape, pos: shape.heap.length, key: indexLoad(n), slot: 0 };
    this.entries.set(n, e);
    this.bySession.set(n.session, n);
    this.order.add(e);
    this.kinds.set(n.kind, (this.kinds.get(n.kind) ?? 0) + 1);
    shape.heap.push(e);
    up(shape.heap, e.pos);
    filedIn(n, this);
  }

  remove(n: NodeRecord): void {
    const e = this.entries.get(n);
    if (!e) return;
    this.entries.delete(n);
    if (this.bySession.get(n.session) === n) this.bySession.delete(n.session);
    unfiledFrom(n, this);
    this.unfile(e);
    this.order.remove(e);
    this.kinds.set(n.kind, (this.kinds.get(n.kind) ?? 1) - 1);
  }

  /** Re-files `n` after its load or resources changed. */
  touch(n: NodeRecord): void {
    const e = this.entries.get(n);
    if (!e) return;
    if (!sameShape(n.resources, e.shape.resources)) {
      this.unfile(e);
      e.shape = this.shapeFor(n.resources);
      e.pos = e.shape.heap.length;
      e.shape.heap.push(e);
    }
    e.key = indexLoad(n);
    const was = e.pos;
    up(e.shape.heap, e.pos);
    down(e.shape.heap, e.pos);
    traffic.refiled++;
    if (e.pos !== was) traffic.moved++;
  }

  /** Whether some node of the mesh offers enough of every resource `t` asks for (ignores what is in use). */
  feasibleAnywhere(t: TaskRecord): boolean {
    const req = t.spec.resources;
    for (const r in req) if (req[r] > 0 && req[r] > (this.maxOf.get(r) ?? 0)) return false;
    for (const s of this.shapes.values()) if (s.heap.length > 0 && shapeFits(s, t)) return true;
    return false;
  }

  /**
   * The least loaded node that `fits` and is not `skip`, looking in each
   * feasible shape at its least loaded nodes in order (all of them in a small
   * shape, CANDIDATES in a large one).
   */
  leastLoaded(t: TaskRecord, fits: (n: NodeRecord) => boolean): NodeRecord | null {
    let best: Entry | null = null;
    for (const s of this.shapes.values()) {
      if (s.heap.length === 0 || !shapeFits(s, t)) continue;
      const e = this.firstFitting(s, fits, best);
      if (e && (!best || before(e, best))) best = e;
    }
    return best?.node ?? null;
  }

  /** Round robin in join order from a cursor: the next node that fits, within SPREAD_SCAN nodes. */
  nextInTurn(fits: (n: NodeRecord) => boolean): NodeRecord | null {
    const scan = Math.max(SPREAD_SCAN, this.entries.size <= EXACT_BELOW ? this.entries.size : 0);
    return this.order.nextInTurn(scan, (e) => fits(e.node))?.node ?? null;
  }

  /**
   * Nodes with a CPU free (fewer tasks than free CPUs), least loaded first
   * within each shape, at most `limit`: only the top of each heap is walked.
   */
  idle(limit: number): NodeRecord[] {
    const out: NodeRecord[] = [];
    // Heap positions to visit: one array for every walk, its top kept apart (a length set to 0 would give its
    // backing store away), no pair of children allocated a node (issue 14, session 14).
    const stack = this.walk;
    for (const s of this.shapes.values()) {
      const heap = s.heap;
      let top = 0;
      if (heap.length) stack[top++] = 0;
      while (top > 0 && out.length < limit) {
        const e = heap[stack[--top]];
        // A heap's children are at least as loaded: below a busy entry, every node is busy.
        if (e.key >= 1) continue;
        if (freeCpus(e.node) > e.node.inflightTasks) out.push(e.node);
        const c = 2 * e.pos + 1;
        if (c < heap.length) stack[top++] = c;
        if (c + 1 < heap.length) stack[top++] = c + 1;
      }
    }
    return out;
  }
  private readonly walk: number[] = [];

  /** How many nodes of each kind (edge, browser) are in the index: the state API's totals without a walk. */
  readonly kinds = new Map<string, number>();

  /**
   * A page of nodes in join order after join seq `after` (-1: from the
   * first), of `kind` if given; `next` is the cursor of the next page (null
   * at the end). A binary search plus the nodes walked (issue 14: a large
   * offset must not walk every node before it).
   */
  page(after: number, limit: number, kind?: string): { nodes: NodeRecord[]; next: number | null } {
    const { page, next } = this.order.after(after, limit, (e) => !kind || e.node.kind === kind);
    return { nodes: page.map((e) => e.node), next };
  }

  /** Up to `k` nodes drawn at random (`random` in [0, 1)), for sampling load without a scan (a new array: tests and tools). */
  sample(k: number, random: () => number): NodeRecord[] {
    const out: NodeRecord[] = [];
    this.sampleInto(k, random, out);
    return out;
  }

  /** As `sample`, into `out` from its start, allocating nothing (join-order.ts sampleInto); answers how many. */
  sampleInto(k: number, random: () => number, out: (NodeRecord | null)[]): number {
    const drawn = this.drawn;
    const n = this.order.sampleInto(k, random, drawn);
    for (let i = 0; i < n; i++) {
      out[i] = drawn[i]!.node;
      drawn[i] = null;
    }
    return n;
  }
  private readonly drawn: (Entry | null)[] = [];

  /** Best-first walk of a shape's heap: the first entry in load order that fits. */
  private firstFitting(s: Shape, fits: (n: NodeRecord) => boolean, bound: Entry | null): Entry | null {
    const heap = s.heap;
    const limit = heap.length <= EXACT_BELOW ? heap.length : CANDIDATES;
    // A small frontier of heap positions, kept sorted by load (it never holds more than `limit` + 1): one array
    // for every walk, its length `n` kept apart; no pair of children allocated a node (issue 14, session 14:
    // 114 B a placement at 100 nodes, where every task is placed here).
    const frontier = this.frontier;
    let n = 0;
    frontier[n++] = 0;
    for (let tried = 0; n > 0 && tried < limit; tried++) {
      const pos = frontier[0];
      for (let i = 1; i < n; i++) frontier[i - 1] = frontier[i];
      n--;
      const e = heap[pos];
      // Nothing further down can beat what another shape offers already.
      if (bound && !before(e, bound)) return null;
      if (fits(e.node)) return e;
      for (let c = 2 * pos + 1; c <= 2 * pos + 2 && c < heap.length; c++) {
        let i = n;
        while (i > 0 && before(heap[c], heap[frontier[i - 1]])) {
          frontier[i] = frontier[i - 1];
          i--;
        }
        frontier[i] = c;
        n++;
      }
    }
    return null;
  }
  private readonly frontier: number[] = [];

  private shapeFor(resources: Record<string, number>): Shape {
    const key = shapeKey(resources);
    let s = this.shapes.get(key);
    if (!s) {
      s = { key, resources: { ...resources }, heap: [] };
      this.shapes.set(key, s);
      for (const r in resources) if (resources[r] > (this.maxOf.get(r) ?? 0)) this.maxOf.set(r, resources[r]);
    }
    return s;
  }

  private unfile(e: Entry): void {
    const heap = e.shape.heap;
    const last = heap.pop()!;
    if (last !== e) {
      heap[e.pos] = last;
      last.pos = e.pos;
      up(heap, last.pos);
      down(heap, last.pos);
    }
    if (heap.length === 0) {
      this.shapes.delete(e.shape.key);
      this.recomputeMax();
    }
  }

  private recomputeMax(): void {
    this.maxOf.clear();
    for (const s of this.shapes.values()) for (const r in s.resources) if (s.resources[r] > (this.maxOf.get(r) ?? 0)) this.maxOf.set(r, s.resources[r]);
  }
}
