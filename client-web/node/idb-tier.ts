// The browser node's spill tier: one IndexedDB database per node (idb-keyval's
// createStore), one entry per object keyed by its hex id. It refuses writes
// past its byte budget (bounded by navigator.storage.estimate() and the
// volunteer's setting); the store then keeps the object in memory.
import { clear, createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import type { ObjectId } from '../../shared/ids.js';
import { isHexId, OBJECT_ID_BYTES } from '../../shared/ids.js';
import type { SpillTier } from '../../shared/node/store.js';

export const DB_PREFIX = 'tabmesh-node-';

export class IdbTier implements SpillTier {
  readonly dbName: string;
  private readonly db: UseStore;
  private readonly sizes = new Map<ObjectId, number>();
  private used = 0;
  /**
   * Bytes handed out by get(): a put of the very same array (the store taking
   * back an object after a reload, then spilling it again) need not be written.
   * Held weakly: bytes read to serve a peer must not stay in memory after it.
   */
  private readonly unchanged = new Map<ObjectId, WeakRef<Uint8Array>>();

  constructor(
    storeId: string,
    /** Most bytes this tier holds. */
    public budget: number,
  ) {
    this.dbName = DB_PREFIX + storeId;
    this.db = createStore(this.dbName, 'objects');
  }

  get bytes(): number {
    return this.used;
  }

  async put(id: ObjectId, bytes: Uint8Array): Promise<void> {
    if (this.unchanged.get(id)?.deref() === bytes) {
      this.unchanged.delete(id);
      return;
    }
    const before = this.sizes.get(id) ?? 0;
    if (this.used - before + bytes.byteLength > this.budget) {
      throw new DOMException(`the IndexedDB budget of ${this.budget} bytes is full`, 'QuotaExceededError');
    }
    // A view into a larger buffer would store the whole buffer.
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    await set(id, own, this.db);
    this.track(id, bytes.byteLength);
  }

  async get(id: ObjectId): Promise<Uint8Array | undefined> {
    const v = await get<Uint8Array>(id, this.db);
    if (!(v instanceof Uint8Array)) return undefined;
    this.track(id, v.byteLength);
    this.unchanged.set(id, new WeakRef(v));
    return v;
  }

  async delete(id: ObjectId): Promise<void> {
    this.unchanged.delete(id);
    await del(id, this.db);
    this.track(id, 0);
  }

  async list(): Promise<ObjectId[]> {
    const all = await keys(this.db);
    return all.filter((k): k is ObjectId => typeof k === 'string' && isHexId(k, OBJECT_ID_BYTES));
  }

  /** Drops every object (a volunteer who leaves takes nothing with them). */
  async clear(): Promise<void> {
    this.unchanged.clear();
    this.sizes.clear();
    this.used = 0;
    await clear(this.db);
  }

  private track(id: ObjectId, size: number): void {
    this.used += size - (this.sizes.get(id) ?? 0);
    if (size > 0) this.sizes.set(id, size);
    else this.sizes.delete(id);
  }
}
