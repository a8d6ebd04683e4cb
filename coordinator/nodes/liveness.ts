// Failure detection by deadlines (issue 14): each node is filed under the
// time it could first be dead (its last frame plus its dead window), in
// buckets of one sweep tick, and a sweep looks at the buckets that came due
// only. A frame from a node moves its deadline later without touching the
// buckets (a node is looked at when its old deadline comes, and filed again
// under its new one), so a node that keeps talking is looked at once per
// dead window, not twice a second: a sweep costs the nodes due, not the mesh.
// A deadline moves earlier in two places only, and both re-file the node:
// a node that said it holds nothing (the long idle window) says it holds
// work (membership's heartbeat), or is given work (load.ts place: `busied`).
import type { NodeRecord } from '../gcs/tables.js';

/** Work was placed on a node that was quiet holding nothing: its short window runs from now, sooner than it was filed for. */
export function busied(n: NodeRecord): void {
  n.deadlines?.refile(n);
}

export class Deadlines {
  /** Nodes by bucket; an entry whose node is filed elsewhere since (slotOf says) is skipped when its bucket comes. */
  private readonly buckets = new Map<number, NodeRecord[]>();
  /** Where each watched node is filed now. */
  private readonly slotOf = new Map<NodeRecord, number>();
  /** The first bucket no sweep has taken yet. */
  private next: number;
  /** Nodes handed to sweeps so far (tests: a sweep looks at the nodes due, not at every node). */
  visited = 0;

  constructor(
    readonly tickMs: number,
    now: number,
    /** When `n` could first be dead (ms): it is dead at a sweep later than this. */
    private readonly deadline: (n: NodeRecord) => number,
  ) {
    this.next = Math.floor(now / tickMs) + 1;
  }

  get size(): number {
    return this.slotOf.size;
  }

  /** Starts watching a node (it joined). */
  watch(n: NodeRecord): void {
    n.deadlines = this;
    this.file(n, this.deadline(n));
  }

  /** Stops watching a node (it left or was declared dead). */
  forget(n: NodeRecord): void {
    this.unfile(n);
    if (n.deadlines === this) n.deadlines = undefined;
  }

  /**
   * Files `n` under the bucket of `at` (ms), instead of where it was: the first sweep in or after that tick looks
   * at it (if that is before `at`, it is filed again and looked at by the next sweep: never later than a walk would).
   */
  file(n: NodeRecord, at: number): void {
    const slot = Math.max(this.next, Math.floor(at / this.tickMs));
    if (this.slotOf.get(n) === slot) return;
    this.slotOf.set(n, slot);
    const b = this.buckets.get(slot);
    if (b) b.push(n);
    else this.buckets.set(slot, [n]);
  }

  /** `n`'s deadline may have moved earlier: files it there if it is sooner than where it is. */
  refile(n: NodeRecord): void {
    const was = this.slotOf.get(n);
    if (was === undefined) return; // not watched, or being looked at by a sweep right now (which files it again)
    if (Math.max(this.next, Math.floor(this.deadline(n) / this.tickMs)) < was) this.file(n, this.deadline(n));
  }

  /** The nodes filed under buckets up to `now`, taken out: the sweep files again those still alive. */
  due(now: number): NodeRecord[] {
    const last = Math.floor(now / this.tickMs);
    const out: NodeRecord[] = [];
    if (last - this.next > 4 * this.buckets.size + 64) {
      // The clock jumped far ahead: fewer buckets than ticks to step through.
      for (const slot of [...this.buckets.keys()]) if (slot <= last) this.take(slot, out);
      this.next = last + 1;
    } else for (; this.next <= last; this.next++) this.take(this.next, out);
    this.visited += out.length;
    return out;
  }

  private take(slot: number, out: NodeRecord[]): void {
    const b = this.buckets.get(slot);
    if (!b) return;
    this.buckets.delete(slot);
    for (const n of b) {
      if (this.slotOf.get(n) !== slot) continue; // filed elsewhere since, or forgotten
      this.slotOf.delete(n);
      out.push(n);
    }
  }

  /** Not filed any more; its old bucket entry is skipped when that bucket comes. */
  private unfile(n: NodeRecord): void {
    this.slotOf.delete(n);
  }
}
