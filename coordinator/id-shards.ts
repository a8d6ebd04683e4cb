// Tables that grow with the tasks and objects in flight (issue 14: no stall
// over 50 ms). A V8 Map or Set rehashes all its entries in one go when it
// doubles (or halves): at 65,536 tasks in flight, the task table, the object
// directory, the job's task and object sets and the driver's held map all
// doubled in the same submit, 64 ms of CPU in one message (32,768: 34 ms).
// Past SPLIT entries these collections spread their entries over SHARDS maps
// by a hash of the key's id, so that a growth or a shrink rehashes one shard
// (1/64th) at a time. Small ones (a node's session, a small job) stay one
// plain map. They are a Map and a Set to their readers; iteration is in
// insertion order only until the split, then shard by shard.

/** Entries past which a collection splits into shards (the split rehashes this many once: well under 1 ms). */
export const SPLIT = 2048;
export const SHARDS = 64;

/** A hex digit's value (0-9, a-f: 0..15); another character gives some number, the same each time. */
const hexValue = (c: number): number => (c & 15) + 9 * (c >> 6);

/**
 * A shard number (0..SHARDS-1) from an id: its first byte (random: a task id
 * is a hash, and every object id starts with its task's) xor its last byte (a
 * return's or a put's index, so one task's outputs spread too). Two bytes of
 * hex, no multiply: ~2x faster than the FNV over eight characters it replaced
 * (issue 14, session 12), with the same spread (test/unit/id-shards.test.ts).
 */
export function idShard(id: string): number {
  const n = id.length;
  if (n < 2) return n === 0 ? 0 : id.charCodeAt(0) & (SHARDS - 1);
  const first = (hexValue(id.charCodeAt(0)) << 4) | hexValue(id.charCodeAt(1));
  const last = (hexValue(id.charCodeAt(n - 2)) << 4) | hexValue(id.charCodeAt(n - 1));
  return (first ^ last) & (SHARDS - 1);
}

/** A Map whose growth and shrinking rehash one shard at a time once it passes SPLIT entries. */
export class ShardedMap<K, V> extends Map<K, V> {
  private shards: Map<K, V>[] | null = null;
  private count = 0;

  constructor(private readonly shardOf: (k: K) => number) {
    super();
  }

  override get size(): number {
    return this.shards ? this.count : super.size;
  }

  /** Entries in the largest hash table inside: what one growth or shrink may rehash at most (for tests). */
  get largestPart(): number {
    return this.shards ? Math.max(...this.shards.map((s) => s.size)) : super.size;
  }

  override get(k: K): V | undefined {
    return this.shards ? this.shards[this.shardOf(k)].get(k) : super.get(k);
  }

  override has(k: K): boolean {
    return this.shards ? this.shards[this.shardOf(k)].has(k) : super.has(k);
  }

  override set(k: K, v: V): this {
    if (!this.shards) {
      super.set(k, v);
      if (super.size > SPLIT) this.split();
      return this;
    }
    const s = this.shards[this.shardOf(k)];
    const before = s.size;
    s.set(k, v);
    this.count += s.size - before;
    return this;
  }

  override delete(k: K): boolean {
    if (!this.shards) return super.delete(k);
    const gone = this.shards[this.shardOf(k)].delete(k);
    if (gone) this.count--;
    return gone;
  }

  override clear(): void {
    this.shards = null;
    this.count = 0;
    super.clear();
  }

  override forEach(fn: (v: V, k: K, map: Map<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  override entries(): MapIterator<[K, V]> {
    if (!this.shards) return super.entries();
    return flat(this.shards, (s) => s.entries()) as MapIterator<[K, V]>;
  }

  override keys(): MapIterator<K> {
    if (!this.shards) return super.keys();
    return flat(this.shards, (s) => s.keys()) as MapIterator<K>;
  }

  override values(): MapIterator<V> {
    if (!this.shards) return super.values();
    return flat(this.shards, (s) => s.values()) as MapIterator<V>;
  }

  override [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  private split(): void {
    const shards: Map<K, V>[] = [];
    for (let i = 0; i < SHARDS; i++) shards.push(new Map());
    for (const [k, v] of super.entries()) shards[this.shardOf(k)].set(k, v);
    this.count = super.size;
    super.clear();
    this.shards = shards;
  }
}

/** A Set whose growth and shrinking rehash one shard at a time once it passes SPLIT entries. */
export class ShardedSet<T> extends Set<T> {
  private shards: Set<T>[] | null = null;
  private count = 0;

  constructor(private readonly shardOf: (v: T) => number) {
    super();
  }

  override get size(): number {
    return this.shards ? this.count : super.size;
  }

  /** Entries in the largest hash table inside: what one growth or shrink may rehash at most (for tests). */
  get largestPart(): number {
    return this.shards ? Math.max(...this.shards.map((s) => s.size)) : super.size;
  }

  override has(v: T): boolean {
    return this.shards ? this.shards[this.shardOf(v)].has(v) : super.has(v);
  }

  override add(v: T): this {
    if (!this.shards) {
      super.add(v);
      if (super.size > SPLIT) this.split();
      return this;
    }
    const s = this.shards[this.shardOf(v)];
    const before = s.size;
    s.add(v);
    this.count += s.size - before;
    return this;
  }

  override delete(v: T): boolean {
    if (!this.shards) return super.delete(v);
    const gone = this.shards[this.shardOf(v)].delete(v);
    if (gone) this.count--;
    return gone;
  }

  override clear(): void {
    this.shards = null;
    this.count = 0;
    super.clear();
  }

  override forEach(fn: (v: T, v2: T, set: Set<T>) => void, thisArg?: unknown): void {
    for (const v of this.values()) fn.call(thisArg, v, v, this);
  }

  override values(): SetIterator<T> {
    if (!this.shards) return super.values();
    return flat(this.shards, (s) => s.values()) as SetIterator<T>;
  }

  override keys(): SetIterator<T> {
    return this.values();
  }

  override entries(): SetIterator<[T, T]> {
    if (!this.shards) return super.entries();
    return flat(this.shards, (s) => s.entries()) as SetIterator<[T, T]>;
  }

  override [Symbol.iterator](): SetIterator<T> {
    return this.values();
  }

  private split(): void {
    const shards: Set<T>[] = [];
    for (let i = 0; i < SHARDS; i++) shards.push(new Set());
    for (const v of super.values()) shards[this.shardOf(v)].add(v);
    this.count = super.size;
    super.clear();
    this.shards = shards;
  }
}

function* flat<S, T>(shards: S[], each: (s: S) => Iterable<T>): Generator<T> {
  for (const s of shards) yield* each(s);
}

/** The shard of a task record (by its task id: a record's id never changes). */
export const taskShard = (t: { readonly spec: { readonly taskId: string } }): number => idShard(t.spec.taskId);
