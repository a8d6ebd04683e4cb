// A browser's runtime env artifacts (issue 16) in IndexedDB, keyed by content
// hash, so that a reloaded tab loads them from here instead of the network.
// One database for the origin, not one per tab: an artifact is the same bytes
// whichever tab fetched it (the cache checks the hash of what it reads back).
// An index entry keeps each artifact's size and last use, for the cache's LRU
// pruning (tabs of one origin may race on it: it is a hint, checked on use).
import { clear, createStore, del, get, set, update, type UseStore } from 'idb-keyval';
import type { EnvTier } from '../../shared/node/env-cache.js';
import { ownBuffer } from '../../shared/shared-memory.js';

export const ENV_DB = 'tabmesh-env';
const INDEX = '~index';
type Index = Record<string, { size: number; at: number }>;

export class IdbEnvTier implements EnvTier {
  readonly label = 'IndexedDB';
  private readonly db: UseStore;

  constructor() {
    this.db = createStore(ENV_DB, 'artifacts');
  }

  async get(hash: string): Promise<Uint8Array | undefined> {
    const v = await get<Uint8Array>(hash, this.db);
    if (!(v instanceof Uint8Array)) return undefined;
    await this.note(hash, v.byteLength);
    return v;
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    // A view into a larger buffer would store the whole buffer.
    // Its own bytes: a view would store the whole buffer, shared memory (an isolated tab's) cannot be stored.
    await set(hash, ownBuffer(bytes), this.db);
    await this.note(hash, bytes.byteLength);
  }

  async delete(hash: string): Promise<void> {
    await del(hash, this.db);
    await update<Index>(INDEX, (i = {}) => (delete i[hash], i), this.db);
  }

  async list(): Promise<{ hash: string; size: number }[]> {
    const i = (await get<Index>(INDEX, this.db)) ?? {};
    return Object.entries(i)
      .sort((a, b) => a[1].at - b[1].at)
      .map(([hash, e]) => ({ hash, size: e.size }));
  }

  async clear(): Promise<void> {
    await clear(this.db);
  }

  private note(hash: string, size: number): Promise<void> {
    return update<Index>(INDEX, (i = {}) => ((i[hash] = { size, at: Date.now() }), i), this.db);
  }
}
