// A node's runtime env artifacts (issue 16), by content hash: in memory, in a
// persistent tier (IndexedDB in a tab, a folder on an edge node) so that a
// reloaded tab or a restarted edge node does not fetch them again, and
// otherwise fetched like any object (peer link or relay; the transfer checks
// the hash, and so does this cache for what it reads back from its tier).
// Artifacts outlive the job that uploaded them: the next job that declares the
// same package finds it here by hash.
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
}

export interface EnvCacheStats {
  /** Artifacts fetched from the mesh (peer or relay). */
  fetched: number;
  bytesFetched: number;
  /** Artifacts read back from the tier (after a reload or restart). */
  fromTier: number;
}

export class EnvCache {
  private readonly mem = new Map<string, Uint8Array>();
  private readonly loading = new Map<string, Promise<void>>();
  readonly stats: EnvCacheStats = { fetched: 0, bytesFetched: 0, fromTier: 0 };

  /** Set by the node runtime of the current session (a cache outlives reconnects). */
  fetch: (id: ObjectId) => Promise<Fetched> = () => Promise.reject(new Error('no node session'));
  log: (text: string) => void = () => {};

  constructor(private readonly tier: EnvTier | undefined) {}

  /** The bytes of an artifact this node holds (sync: executors get them with a function's first task). */
  bytes(hash: string): Uint8Array | undefined {
    return this.mem.get(hash);
  }

  ready(decls: EnvDecl[], side: 'b' | 'e'): boolean {
    return decls.every((d) => this.mem.has(d[side].hash));
  }

  /** Loads every artifact of `decls` for this side: tier first, else the mesh. */
  async ensure(decls: EnvDecl[], side: 'b' | 'e'): Promise<void> {
    await Promise.all(decls.map((d) => this.load(d, side)));
  }

  private load(d: EnvDecl, side: 'b' | 'e'): Promise<void> {
    const a = d[side];
    if (this.mem.has(a.hash)) return Promise.resolve();
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
      this.mem.set(a.hash, kept);
      this.stats.fromTier++;
      this.log(`runtime env: ${what} loaded from ${this.tier!.label}`);
      return;
    }
    const f = await this.fetch(a.id);
    if (f.failure) throw new RuntimeEnvError('LOAD_FAILED', `runtime env: could not fetch ${what}: ${f.failure.message}`);
    const bytes = f.bytes;
    if (contentHash(bytes) !== a.hash) throw new RuntimeEnvError('LOAD_FAILED', `runtime env: ${what} arrived with other content (hash mismatch)`);
    this.mem.set(a.hash, bytes);
    this.stats.fetched++;
    this.stats.bytesFetched += bytes.byteLength;
    this.log(`runtime env: fetched ${what} from the mesh`);
    if (this.tier) {
      this.tier.put(a.hash, bytes).catch((e: Error) => this.log(`runtime env: could not keep ${what} in ${this.tier!.label}: ${e.message}`));
    }
  }
}
