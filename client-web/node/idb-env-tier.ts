// A browser's runtime env artifacts (issue 16) in IndexedDB, keyed by content
// hash, so that a reloaded tab loads them from here instead of the network.
// One database for the origin, not one per tab: an artifact is the same bytes
// whichever tab fetched it (the cache checks the hash of what it reads back).
import { clear, createStore, get, set, type UseStore } from 'idb-keyval';
import type { EnvTier } from '../../shared/node/env-cache.js';

export const ENV_DB = 'tabmesh-env';

export class IdbEnvTier implements EnvTier {
  readonly label = 'IndexedDB';
  private readonly db: UseStore;

  constructor() {
    this.db = createStore(ENV_DB, 'artifacts');
  }

  async get(hash: string): Promise<Uint8Array | undefined> {
    const v = await get<Uint8Array>(hash, this.db);
    return v instanceof Uint8Array ? v : undefined;
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    // A view into a larger buffer would store the whole buffer.
    await set(hash, bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice(), this.db);
  }

  async clear(): Promise<void> {
    await clear(this.db);
  }
}
