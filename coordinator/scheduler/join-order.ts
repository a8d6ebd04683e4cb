// Nodes in join order (node-index.ts): an array with holes where nodes left,
// compacted when half of it is holes, so adding and removing are O(1)
// amortised. Spread's round robin walks it from a cursor; load sampling
// draws from it at random; the state API pages through it from a join
// sequence number (`after`), found by binary search, not by a walk.

/** Which field of an entry holds its place in an order: an entry may be in two (the task table's: all tasks, its job's). */
export type SlotKey = 'slot' | 'jobSlot';

type Slotted<K extends SlotKey> = {
  /** Join sequence number: increasing in join order. */
  seq: number;
} & {
  /** Where it is in the array (kept by this class). */
  [k in K]: number;
};

export class JoinOrder<E extends Slotted<K>, K extends SlotKey = 'slot'> {
  private readonly order: (E | null)[] = [];
  /** The seq of each slot, kept when its entry leaves (a hole): binary search needs every slot's. */
  private readonly seqs: number[] = [];
  private holes = 0;
  private cursor = 0;

  constructor(private readonly key: K = 'slot' as K) {}

  add(e: E): void {
    this.setSlot(e, this.order.length);
    this.order.push(e);
    this.seqs.push(e.seq);
  }

  remove(e: E): void {
    const at = e[this.key] as number;
    if (this.order[at] !== e) return;
    this.order[at] = null;
    if (++this.holes * 2 > this.order.length && this.order.length > 64) this.compact();
  }

  private setSlot(e: E, at: number): void {
    (e as Record<K, number>)[this.key] = at;
  }

  /** Every entry in join order (a copy). */
  list(): E[] {
    const out: E[] = [];
    for (const e of this.order) if (e) out.push(e);
    return out;
  }

  /** Round robin from the cursor: the next entry that `fits`, looking at most at `scan` live entries. */
  nextInTurn(scan: number, fits: (e: E) => boolean): E | null {
    const len = this.order.length;
    for (let i = 0, live = 0; i < len && live < scan; i++) {
      const at = (this.cursor + i) % len;
      const e = this.order[at];
      if (!e) continue;
      live++;
      if (fits(e)) {
        this.cursor = (at + 1) % len;
        return e;
      }
    }
    return null;
  }

  /** Up to `k` distinct entries drawn at random (`random` in [0, 1)), in the order drawn (a new array: tests and tools). */
  sample(k: number, random: () => number): E[] {
    const out: E[] = [];
    this.sampleInto(k, random, out);
    return out;
  }

  /**
   * As `sample`, into `out` from its start; answers how many. A slot drawn twice counts once: slots drawn this
   * time carry this sample's stamp, so that the rebalancer's sample of 1,024 every 100 ms of a job allocates
   * nothing (issue 14, session 14: its Set and arrays were 35-105 bytes a task of a job at 10,000 nodes). The
   * caller empties what it read by writing null over it: setting an array's length to 0 gives V8's backing store
   * away, and the next sample would allocate it again.
   */
  sampleInto(k: number, random: () => number, out: (E | null)[]): number {
    const len = this.order.length;
    if (len === 0) return 0;
    if (this.drawn.length < len) this.drawn = new Uint32Array(Math.max(len, this.drawn.length * 2));
    if (++this.stamp === 0xffffffff) {
      this.drawn.fill(0);
      this.stamp = 1;
    }
    let n = 0;
    for (let i = 0; i < k * 2 && n < k; i++) {
      const at = Math.floor(random() * len);
      const e = this.order[at];
      if (e && this.drawn[at] !== this.stamp) {
        this.drawn[at] = this.stamp;
        out[n++] = e;
      }
    }
    return n;
  }
  /** Per slot, the stamp of the last sample that drew it. */
  private drawn = new Uint32Array(0);
  private stamp = 0;

  /**
   * Entries that joined after seq `after` (-1: from the first), in join order,
   * that `keep`, at most `limit`; `next` is the seq to ask after for the next
   * page (null at the end). Costs a binary search plus the entries walked.
   */
  after(after: number, limit: number, keep: (e: E) => boolean): { page: E[]; next: number | null } {
    const { page, through } = this.scan(after, limit, keep, Infinity);
    return { page, next: through };
  }

  /**
   * As `after`, looking at no more than `budget` slots (issue 14: a filtered
   * page costs at most its budget, however few entries match): `through` is
   * the seq the walk covered (the page's last when more match, the last slot
   * looked at when the budget ran out), null when it reached the end.
   */
  scan(after: number, limit: number, keep: (e: E) => boolean, budget: number): { page: E[]; through: number | null } {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.seqs[mid] <= after) lo = mid + 1;
      else hi = mid;
    }
    const page: E[] = [];
    for (let i = lo, looked = 0; i < this.order.length; i++) {
      if (looked++ >= budget) return { page, through: this.seqs[i - 1] };
      const e = this.order[i];
      if (!e || !keep(e)) continue;
      if (page.length === limit) return { page, through: page[page.length - 1].seq };
      page.push(e);
    }
    return { page, through: null };
  }

  get length(): number {
    return this.order.length - this.holes;
  }

  /**
   * Closes the holes in place (issue 14, session 24): new arrays for the live entries and their seqs were
   * ~68 B a task of what the coordinator's scavenges kept in a 20,000-task batch (the task table's two orders
   * are compacted as the batch drains, the arrays large enough to outlive a scavenge). Shortening an array
   * trims its backing store where it stands.
   */
  private compact(): void {
    const order = this.order;
    const seqs = this.seqs;
    let n = 0;
    let cursor = 0;
    for (let i = 0; i < order.length; i++) {
      const e = order[i];
      if (i === this.cursor) cursor = n;
      if (e) {
        this.setSlot(e, n);
        order[n] = e;
        seqs[n] = e.seq;
        n++;
      }
    }
    order.length = n;
    seqs.length = n;
    this.holes = 0;
    this.cursor = n ? cursor % n : 0;
  }
}
