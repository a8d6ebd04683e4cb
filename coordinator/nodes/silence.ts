// How many of our nodes are silent now, past the longest silence they were allowed (session 37, hold.ts): the first
// node of a group that went silent together comes due alone, a keepalive window before the last; counted by its
// deadline only, it was lost before the group was seen. Nodes are counted by the tick of their last frame, those
// that said they hold nothing apart (their keepalives are rarer): a frame moves a node only when its tick changed,
// and a count walks the ticks that hold someone (a keepalive window's worth, two kinds), never the nodes.
import type { NodeRecord } from '../gcs/tables.js';

/**
 * Work was placed on a node quiet holding nothing, or its last task left one that said it holds nothing: its kind
 * moved (session 38: nodes that said idle, then took a task and fell silent, were read with the idle ones, whose
 * silence shows 15 s later, though their short window ran: a stopped host's busy nodes were lost unseen).
 */
export function kindMoved(n: NodeRecord): void {
  n.silence?.moved(n);
}

export class Silence {
  /** Nodes by key: 2 × the tick of their last frame, + 1 for those idle (idle()). */
  private readonly counts = new Map<number, number>();
  /** Nodes counted, by kind: [not idle, idle] (each kind's silence is read against its own number). */
  readonly population: [number, number] = [0, 0];

  constructor(
    readonly tickMs: number,
    /** Whether `n` is under the idle window now (it said it holds nothing and was given nothing since). */
    private readonly idle: (n: NodeRecord) => boolean,
  ) {}

  /** `n` (one of ours) was heard at `at` (ms): counted under that tick, and its kind. */
  heard(n: NodeRecord, at: number): void {
    if (n.heardKey === undefined) n.silence = this;
    this.file(n, 2 * Math.floor(at / this.tickMs) + (this.idle(n) ? 1 : 0));
  }

  /** `n`'s kind moved: counted from its last frame if idle now, else from when it was given work (its short window's start). */
  moved(n: NodeRecord): void {
    if (n.heardKey === undefined) return;
    const idle = this.idle(n);
    const at = idle ? n.lastSeen : Math.max(n.lastSeen, n.busySince ?? 0);
    this.file(n, 2 * Math.floor(at / this.tickMs) + (idle ? 1 : 0));
  }

  private file(n: NodeRecord, key: number): void {
    const was = n.heardKey;
    if (was === key) return;
    if (was !== undefined) this.drop(was);
    this.population[key % 2]++;
    n.heardKey = key;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** `n` is not counted any more (gone). */
  forget(n: NodeRecord): void {
    const was = n.heardKey;
    if (n.silence === this) n.silence = undefined;
    if (was === undefined) return;
    n.heardKey = undefined;
    this.drop(was);
  }

  /**
   * Nodes last heard before `before` (ms), and those that said they hold nothing before `idleBefore`: both silent
   * longer than they were allowed, [not idle, idle]. Counted by tick: a node heard in the tick of the bound counts
   * as heard in time.
   */
  silent(before: number, idleBefore: number): [number, number] {
    const cut = Math.floor(before / this.tickMs);
    const idleCut = Math.floor(idleBefore / this.tickMs);
    const k: [number, number] = [0, 0];
    // Keys pass 2^31 (ms since 1970 by tick, doubled): halves by division, not shifts.
    for (const [key, count] of this.counts) if (Math.floor(key / 2) < (key % 2 === 1 ? idleCut : cut)) k[key % 2] += count;
    return k;
  }

  private drop(key: number): void {
    this.population[key % 2]--;
    const c = (this.counts.get(key) ?? 0) - 1;
    if (c > 0) this.counts.set(key, c);
    else this.counts.delete(key);
  }
}
