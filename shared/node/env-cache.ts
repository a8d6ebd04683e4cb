// A node's runtime env artifacts (issue 16), by content hash: in memory, in a
// persistent tier (IndexedDB in a tab, a folder on an edge node) so that a
// reloaded tab or a restarted edge node does not fetch them again, and
// otherwise fetched like any object (peer link or relay; the transfer checks
// the hash, and so does this cache for what it reads back from its tier).
// Artifacts outlive the job that uploaded them: the next job that declares the
// same package finds it here by hash. Memory and tier are each bounded in
// bytes, least recently used artifacts pruned first.
import type { Fetched } from '../api/core.js';
import { RuntimeEnvError } from '../env/env.js';
import { contentHash } from '../hash.js';
import type { ObjectId } from '../ids.js';
import type { EnvDecl } from '../protocol/messages.js';

/** Where artifacts persist across restarts, keyed by content hash. */
export interface EnvTier {
  /** For messages: "IndexedDB", "disk". */
  readonly label: string;
  get(hash: string): Promise<Uint8Array | undefined>;
  put(hash: string, bytes: Uint8Array): Promise<void>;
  delete(hash: string): Promise<void>;
  /** What it holds, least recently used first (what a restarted node starts its LRU order from). */
  list(): Promise<{ hash: string; size: number }[]>;
}

export interface EnvCacheStats {
  /** Artifacts fetched from the mesh (peer or relay). */
  fetched: number;
  bytesFetched: number;
  /** Artifacts read back from the tier (after a reload or restart). */
  fromTier: number;
  /** Artifacts pruned to stay within the bounds: from memory, and from the tier. */
  prunedMemory: number;
  prunedTier: number;
}

/** Bounds of a node's artifact cache, in bytes: least recently used artifacts go first. */
export interface EnvCacheLimits {
  /** Default 64 MiB. An artifact larger than the bound is kept alone. */
  memoryBytes?: number;
  /** Default 256 MiB. */
  tierBytes?: number;
}

export const DEFAULT_ENV_MEMORY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_ENV_TIER_BYTES = 256 * 1024 * 1024;

export class EnvCache {
  /** By hash, least recently used first (Map order: a use moves it to the end). */
  private readonly mem = new Map<string, Uint8Array>();
  private memBytes = 0;
  /** What the tier holds, least recently used first; read from the tier at the first write. */
  private tierIndex: Promise<Map<string, number>> | null = null;
  private readonly loading = new Map<string, Promise<void>>();
  readonly stats: EnvCacheStats = { fetched: 0, bytesFetched: 0, fromTier: 0, prunedMemory: 0, prunedTier: 0 };
  readonly memoryBytes: number;
  readonly tierBytes: number;

  /** Set by the node runtime of the current session (a cache outlives reconnects). */
  fetch: (id: ObjectId) => Promise<Fetched> = () => Promise.reject(new Error('no node session'));
  log: (text: string) => void = () => {};
  /** Artifacts this node now holds: it tells the coordinator, which may ask it to put one that the mesh lost. */
  onHave: (arts: { hash: string; size: number }[]) => void = () => {};

  constructor(
    private readonly tier: EnvTier | undefined,
    limits: EnvCacheLimits = {},
  ) {
    this.memoryBytes = limits.memoryBytes ?? DEFAULT_ENV_MEMORY_BYTES;
    this.tierBytes = limits.tierBytes ?? DEFAULT_ENV_TIER_BYTES;
  }

  /** The bytes of an artifact this node holds (sync: executors get them with a function's first task). */
  bytes(hash: string): Uint8Array | undefined {
    const b = this.mem.get(hash);
    if (b) {
      this.mem.delete(hash);
      this.mem.set(hash, b);
    }
    return b;
  }

  /** The bytes from memory or the tier (hash-checked), to put into the mesh again. */
  async read(hash: string): Promise<Uint8Array | undefined> {
    const b = this.bytes(hash);
    if (b) return b;
    const kept = await this.tier?.get(hash).catch(() => undefined);
    return kept && contentHash(kept) === hash ? kept : undefined;
  }

  ready(decls: EnvDecl[], side: 'b' | 'e'): boolean {
    return decls.every((d) => this.mem.has(d[side].hash));
  }

  /** Tells the coordinator (of a new session) what this node holds in memory. */
  announce(): void {
    const arts = [...this.mem].map(([hash, b]) => ({ hash, size: b.byteLength }));
    for (let i = 0; i < arts.length; i += 64) this.onHave(arts.slice(i, i + 64));
  }

  /** Loads every artifact of `decls` for this side: tier first, else the mesh. */
  async ensure(decls: EnvDecl[], side: 'b' | 'e'): Promise<void> {
    await Promise.all(decls.map((d) => this.load(d, side)));
  }

  private load(d: EnvDecl, side: 'b' | 'e'): Promise<void> {
    const a = d[side];
    if (this.bytes(a.hash)) return Promise.resolve();
    let p = this.loading.get(a.hash);
    if (!p) {
      p = this.loadOnce(d, a).finally(() => this.loading.delete(a.hash));
      this.loading.set(a.hash, p);
    }
    return p;
  }

  private async loadOnce(d: EnvDecl, a: EnvDecl['b']): Promise<void> {
    const what = `${d.kind} '${d.name}' (${a.size} bytes, ${a.hash.slice(0, 12)})`;
    const kept = await this.tier?.get(a.hash).catch(() => undefined);
    if (kept && contentHash(kept) === a.hash) {
      this.keep(a.hash, kept);
      this.stats.fromTier++;
      void this.touchTier(a.hash, kept.byteLength);
      this.log(`runtime env: ${what} loaded from ${this.tier!.label}`);
      return;
    }
    const f = await this.fetch(a.id);
    if (f.failure) throw new RuntimeEnvError('LOAD_FAILED', `runtime env: could not fetch ${what}: ${f.failure.message}`);
    const bytes = f.bytes;
    if (contentHash(bytes) !== a.hash) throw new RuntimeEnvError('LOAD_FAILED', `runtime env: ${what} arrived with other content (hash mismatch)`);
    this.keep(a.hash, bytes);
    this.stats.fetched++;
    this.stats.bytesFetched += bytes.byteLength;
    this.log(`runtime env: fetched ${what} from the mesh`);
    if (this.tier) {
      this.tier
        .put(a.hash, bytes)
        .then(() => this.touchTier(a.hash, bytes.byteLength))
        .catch((e: Error) => this.log(`runtime env: could not keep ${what} in ${this.tier!.label}: ${e.message}`));
    }
  }

  /** Into memory, as the most recent; the least recent go while over the bound (never the one just kept). */
  private keep(hash: string, bytes: Uint8Array): void {
    this.mem.set(hash, bytes);
    this.memBytes += bytes.byteLength;
    this.onHave([{ hash, size: bytes.byteLength }]);
    for (const [h, b] of this.mem) {
      if (this.memBytes <= this.memoryBytes || h === hash) break;
      this.mem.delete(h);
      this.memBytes -= b.byteLength;
      this.stats.prunedMemory++;
      this.log(`runtime env: pruned ${h.slice(0, 12)} (${b.byteLength} bytes) from memory (bound ${this.memoryBytes} bytes)`);
    }
  }

  /** Marks `hash` as the tier's most recent artifact, and prunes the least recent while the tier is over its bound. */
  private async touchTier(hash: string, size: number): Promise<void> {
    const tier = this.tier!;
    const index = await (this.tierIndex ??= tier.list().then(
      (l) => new Map(l.map((e) => [e.hash, e.size])),
      () => new Map<string, number>(),
    ));
    index.delete(hash);
    index.set(hash, size);
    let total = 0;
    for (const n of index.values()) total += n;
    for (const [h, n] of index) {
      if (total <= this.tierBytes || h === hash) break;
      index.delete(h);
      total -= n;
      this.stats.prunedTier++;
      await tier.delete(h).catch((e: Error) => this.log(`runtime env: could not prune ${h.slice(0, 12)} from ${tier.label}: ${e.message}`));
      this.log(`runtime env: pruned ${h.slice(0, 12)} (${n} bytes) from ${tier.label} (bound ${this.tierBytes} bytes)`);
    }
  }
}
