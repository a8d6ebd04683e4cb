// Placing task groups' queued members (docs/decisions.md "Task groups", "Placement"): in the scheduler's pass,
// time-sliced with it, on nodes that said `groups` in their hello and are not a link to another coordinator.
// A node with room for k members (group-room.ts: room.ts's rules) gets one `assignGroup` slice of up to k. Nodes
// are found as a plain task's are, least loaded first through the node index (its cost does not follow the
// mesh's size); only a mesh of few group nodes is also walked whole when the index's candidates have no room.
// Other coordinators (links) take no slices: when our own nodes have no room left and a link has, a batch of queued
// members becomes ordinary tasks, which the scheduler's link rule places there (docs/decisions.md "A task group
// reaches other coordinators as ordinary tasks").
import { MAX_GROUP } from '../../shared/protocol/group.js';
import type { Gcs } from '../gcs/gcs.js';
import type { NodeRecord, TaskRecord } from '../gcs/tables.js';
import { sentFunction } from '../nodes/load.js';
import { freeCpus } from '../scheduler/node-index.js';
import type { GroupRecord, Slice } from './group-record.js';
import { MEASURED_RUNS, roomFor } from './group-room.js';
import type { GroupTable } from './group-table.js';

/** A slice's members' argument bytes stay under this (one more member at least): frames stay small. */
const SLICE_ARG_BYTES = 1 << 20;
/** Up to this many nodes taking groups, they are walked whole when the index's least loaded candidates have no room. */
const WALK_BELOW = 64;
/**
 * The coordinator's CPU per group member, µs (bench:scale, docs/decisions.md "Task groups": 12-14): a function
 * measured shorter than this times our own CPUs runs faster on them than the coordinator hands out members.
 */
const MEMBER_US = 13;

export class GroupPlacer {
  /** Nodes that take groups, in join order; the pass goes round them from `cursor`. */
  private readonly nodes: NodeRecord[] = [];
  private readonly at = new Map<NodeRecord, number>();
  private cursor = 0;
  /** The node index's pick of the least loaded node that `fits` (the scheduler's), for a group's template. */
  leastLoaded: (grp: GroupRecord, fits: (n: NodeRecord) => boolean) => NodeRecord | null = () => null;
  /** No node takes groups but others live: the queued members of these groups become ordinary tasks (group-materialize.ts). */
  toOrdinary: (grp: GroupRecord) => void = () => {};
  /** Whether any node (taking groups or not) is alive. */
  anyNode: () => boolean = () => false;
  /** Links to other coordinators in the scheduler's index (their nodes' CPUs are theirs). */
  links: () => Iterable<NodeRecord> = () => [];
  /** Our own nodes' tasks in flight per CPU (the scheduler's share rule for a link). */
  ownLoadPerCpu: () => number = () => Infinity;
  /** Our own nodes' CPUs. */
  ownCpus: () => number = () => 0;
  /** `k` queued members become ordinary tasks (group-materialize.ts ordinary): their records. */
  toTasks: (grp: GroupRecord, k: number) => TaskRecord[] = () => [];
  /** Members made tasks for links, not placed yet: no more are made until the scheduler has placed these. */
  private forLinks: TaskRecord[] = [];

  constructor(
    private readonly gcs: Gcs,
    private readonly table: GroupTable,
  ) {}

  get size(): number {
    return this.nodes.length;
  }

  addNode(n: NodeRecord): void {
    if (!n.session.groups || n.link !== undefined || this.at.has(n)) return;
    this.at.set(n, this.nodes.length);
    this.nodes.push(n);
    this.table.wake();
  }

  removeNode(n: NodeRecord): void {
    const k = this.at.get(n);
    if (k === undefined) return;
    const last = this.nodes.pop()!;
    if (last !== n) {
      this.nodes[k] = last;
      this.at.set(last, k);
    }
    this.at.delete(n);
  }

  /**
   * Places queued members, first group first, until none is queued, no node has room, or the clock passes
   * `deadline` (then false: the rest in the next pass). A group whose members no node has room for stops the
   * pass: later groups wait their turn (members free room as they end).
   */
  pass(deadline: number): boolean {
    const t = this.table;
    if (t.waiting.length === 0) return true;
    if (this.nodes.length === 0) {
      if (!this.anyNode()) return true;
      for (const grp of t.waiting) if (t.groups.get(grp.g) === grp && grp.queued > 0) this.toOrdinary(grp);
      // An owner away keeps its members queued (in the list) until it resumes or a node taking groups joins.
      t.waiting = t.waiting.filter((grp) => (grp.waiting = t.groups.get(grp.g) === grp && grp.queued > 0));
      return true;
    }
    const list = t.waiting;
    let w = 0;
    let cut = false;
    for (; w < list.length && !cut; w++) {
      const grp = list[w];
      if (grp.queued <= 0 || t.groups.get(grp.g) !== grp) {
        grp.waiting = false;
        continue;
      }
      while (grp.queued > 0) {
        const n = this.pick(grp);
        if (!n) break;
        this.send(grp, n, this.room);
        if (performance.now() > deadline) {
          cut = true;
          break;
        }
      }
      if (cut) break;
      if (grp.queued > 0) this.overLinks(grp);
      if (grp.queued > 0) break; // no node has room now
      grp.waiting = false;
    }
    t.waiting = w === 0 ? list : list.slice(w);
    return !cut;
  }

  /**
   * Our own nodes have no room for `grp`'s queued members: each link (another coordinator) with room gets as many
   * as the scheduler's rule for a plain task gives it (scheduler.ts linkFor: while its tasks per CPU are no more
   * than our own nodes'; room.ts's fits(), not a slice's shallower room), made ordinary tasks that the scheduler's
   * pass places there. A batch at a time: none is made while the last one waits in the scheduler's queue. No link,
   * no cost.
   */
  private overLinks(grp: GroupRecord): void {
    let w = 0;
    for (const t of this.forLinks) if (t.state === 'queued') this.forLinks[w++] = t;
    this.forLinks.length = w;
    if (w > 0) return;
    // Our own nodes drain the group faster than we hand out its members: a link adds no rate here, and a member
    // there costs this coordinator a plain task's CPU (~2.5x a member's). bench:scale, 100 nodes half behind a link:
    // docs/decisions.md "A task group reaches other coordinators as ordinary tasks".
    const f = this.gcs.functions.get(grp.spec.fnId);
    if (f && f.runs >= MEASURED_RUNS && f.ewmaMs * 1000 < this.ownCpus() * MEMBER_US) return;
    let own = -1;
    for (const n of this.links()) {
      if (grp.queued <= 0) return;
      const cpus = freeCpus(n);
      if (cpus <= 0) continue;
      if (own < 0) own = this.ownLoadPerCpu();
      const share = Number.isFinite(own) ? Math.floor(own * cpus - n.inflightTasks) + 1 : MAX_GROUP;
      const k = Math.min(share, roomFor(this.gcs, n, grp.spec, Math.min(grp.queued, MAX_GROUP), true));
      if (k > 0) for (const t of this.toTasks(grp, k)) this.forLinks.push(t);
    }
  }

  /** Members the last node picked has room for. */
  private room = 0;

  /** A node taking groups with room for some of `grp`'s queued members (this.room of them), or null. */
  private pick(grp: GroupRecord): NodeRecord | null {
    const cap = Math.min(grp.queued, MAX_GROUP);
    const fits = (n: NodeRecord): boolean => this.at.has(n) && (this.room = roomFor(this.gcs, n, grp.spec, cap)) > 0;
    return this.leastLoaded(grp, fits) ?? this.walk(fits);
  }

  /** A mesh of few nodes taking groups is walked whole when the index's candidates did not fit. */
  private walk(fits: (n: NodeRecord) => boolean): NodeRecord | null {
    if (this.nodes.length > WALK_BELOW) return null;
    for (let k = 0; k < this.nodes.length; k++) {
      if (this.cursor >= this.nodes.length) this.cursor = 0;
      const m = this.nodes[this.cursor++];
      if (fits(m)) return m;
    }
    return null;
  }

  /** Sends node `n` slices of up to `k` of the group's queued members (one a run of the same attempt). */
  private send(grp: GroupRecord, n: NodeRecord, k: number): void {
    const idx = grp.take(k);
    let start = 0;
    while (start < idx.length) {
      const a = grp.attempt[idx[start]];
      let end = start + 1;
      let bytes = argBytes(grp, idx[start]);
      while (end < idx.length && grp.attempt[idx[end]] === a && bytes < SLICE_ARG_BYTES) bytes += argBytes(grp, idx[end++]);
      this.slice(grp, n, idx.slice(start, end), a);
      start = end;
    }
  }

  private slice(grp: GroupRecord, n: NodeRecord, idx: number[], attempt: number): void {
    const s = grp.sentTo.length;
    const sl: Slice = { grp, s, node: n, idx, open: idx.length, at: Date.now() };
    this.table.openSlice(grp, sl, idx);
    let fn;
    const fnId = grp.spec.fnId;
    if (!n.functions?.has(fnId)) {
      const f = this.gcs.functions.get(fnId);
      if (f) {
        fn = { fnId: f.fnId, kind: f.kind, name: f.name, source: f.source, env: f.env };
        sentFunction(n, fnId);
      }
    }
    const spec = attempt === 0 ? grp.spec : { ...grp.spec, attempt, gen: (grp.spec.gen ?? 0) + attempt };
    const args = idx.map((i) => grp.args[i]);
    n.session.send({ t: 'assignGroup', spec, first: grp.first, s, attempt, idx, args, fn });
  }
}

function argBytes(grp: GroupRecord, i: number): number {
  let b = 0;
  for (const v of grp.args[i]) b += v.byteLength;
  return b;
}
