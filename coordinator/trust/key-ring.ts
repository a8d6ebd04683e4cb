// The last N task keys (48-bit numbers) a session was given, in typed arrays
// (issue 14): a Set of them kept a boxed number per key and a hash table sized
// for the peak, ~3.8 MB per node after a burst of 50,000 placements
// (a coordinator heap snapshot, session 9); these arrays take ~1.4 MB at most
// and grow with use, so an idle node costs a few hundred bytes.

const FIRST = 64;

/**
 * A set of the last `max` keys added (integers in 0..2^53; task keys are 48
 * bits): an open-addressing table (linear probing, backward-shift delete) of
 * key+1 (0 marks a free slot) and a ring that says which key leaves next.
 */
export class KeyRing {
  private slots = new Float64Array(2 * FIRST);
  private ring = new Float64Array(FIRST);
  private next = 0;
  private count = 0;

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`a KeyRing holds at least one key, not ${max}`);
  }

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    return this.find(key + 1) >= 0;
  }

  add(key: number): void {
    const k = key + 1;
    if (this.find(k) >= 0) return;
    if (this.count === this.max) {
      this.remove(this.ring[this.next]);
    } else if (this.count === this.ring.length) this.grow();
    this.ring[this.next] = k;
    this.next = this.next + 1 === this.max ? 0 : this.next + 1;
    this.count++;
    this.put(k);
  }

  /** The slot holding `k`, or -1. */
  private find(k: number): number {
    const s = this.slots;
    const mask = s.length - 1;
    for (let i = (k >>> 0) & mask; ; i = (i + 1) & mask) {
      const v = s[i];
      if (v === k) return i;
      if (v === 0) return -1;
    }
  }

  private put(k: number): void {
    const s = this.slots;
    const mask = s.length - 1;
    let i = (k >>> 0) & mask;
    while (s[i] !== 0) i = (i + 1) & mask;
    s[i] = k;
  }

  /** Deletes `k` and shifts back the keys after it that probed past its slot (no tombstones). */
  private remove(k: number): void {
    const s = this.slots;
    const mask = s.length - 1;
    let hole = this.find(k);
    if (hole < 0) return;
    this.count--;
    s[hole] = 0;
    for (let i = (hole + 1) & mask; s[i] !== 0; i = (i + 1) & mask) {
      const home = (s[i] >>> 0) & mask;
      // The key at i may move into the hole when its home is not within (hole, i] (cyclically).
      if (((i - home) & mask) >= ((i - hole) & mask)) {
        s[hole] = s[i];
        s[i] = 0;
        hole = i;
      }
    }
  }

  /** Doubles the ring (up to `max`) and the table, which stays at most half full. */
  private grow(): void {
    const ring = new Float64Array(Math.min(this.max, this.ring.length * 2));
    ring.set(this.ring);
    this.ring = ring;
    const old = this.slots;
    this.slots = new Float64Array(old.length * 2);
    for (let i = 0; i < old.length; i++) if (old[i] !== 0) this.put(old[i]);
  }
}
