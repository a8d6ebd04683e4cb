// The browser node's spill tier: one IndexedDB database per node (idb-keyval's
// createStore), one entry per object keyed by its hex id. It refuses writes
// past its byte budget (bounded by navigator.storage.estimate() and the
// volunteer's setting); the store then keeps the object in memory.
//
// Issue 17: an object over 1 MiB is stored in 1 MiB pieces ("<id>.<k>"), and
// its entry is a marker { size, pieces } written last (list() sees whole
// objects only), so a holder reads one piece per window to serve it instead
// of the whole object.
import { clear, createStore, del, delMany, get, getMany, keys, set, setMany, type UseStore } from 'idb-keyval';
import type { ObjectId } from '../../shared/ids.js';
import { isHexId, OBJECT_ID_BYTES } from '../../shared/ids.js';
import { allocBytes } from '../../shared/bytes.js';
import { ownBuffer } from '../../shared/shared-memory.js';
import type { SpillTier } from '../../shared/node/store.js';
import { STREAM_WINDOW } from '../../shared/transfer/source.js';

export const DB_PREFIX = 'tabmesh-node-';
/** Bytes of one piece: the serving window, so a window is one piece. */
export const PIECE_BYTES = STREAM_WINDOW;
/** Pieces written in one transaction (their copies held at once). */
const PIECES_PER_WRITE = 8;

interface Pieced {
  size: number;
  pieces: number;
}

function isPieced(v: unknown): v is Pieced {
  const p = v as Pieced;
  return typeof p === 'object' && p !== null && !(p instanceof Uint8Array) && Number.isSafeInteger(p.size) && Number.isSafeInteger(p.pieces);
}

const pieceKey = (id: ObjectId, k: number) => `${id}.${k}`;

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
    if (bytes.byteLength <= PIECE_BYTES) {
      // A view into a larger buffer would store the whole buffer; shared memory cannot be stored (a copy of either).
      await set(id, ownBuffer(bytes), this.db);
    } else {
      const pieces = Math.ceil(bytes.byteLength / PIECE_BYTES);
      for (let k = 0; k < pieces; k += PIECES_PER_WRITE) {
        const batch: [IDBValidKey, Uint8Array][] = [];
        for (let j = k; j < Math.min(pieces, k + PIECES_PER_WRITE); j++) batch.push([pieceKey(id, j), bytes.slice(j * PIECE_BYTES, (j + 1) * PIECE_BYTES)]);
        await setMany(batch, this.db);
      }
      await set(id, { size: bytes.byteLength, pieces } satisfies Pieced, this.db);
    }
    this.track(id, bytes.byteLength);
  }

  async get(id: ObjectId): Promise<Uint8Array | undefined> {
    const v = await get<unknown>(id, this.db);
    let bytes: Uint8Array | undefined;
    if (v instanceof Uint8Array) bytes = v;
    else if (isPieced(v)) {
      // Shared memory where the tab is cross-origin isolated: executors then read it without a copy.
      bytes = allocBytes(v.size, true);
      const all = await getMany<Uint8Array>(
        Array.from({ length: v.pieces }, (_, k) => pieceKey(id, k)),
        this.db,
      );
      let o = 0;
      for (const p of all) {
        if (!(p instanceof Uint8Array) || o + p.byteLength > v.size) return undefined; // torn: treated as gone
        bytes.set(p, o);
        o += p.byteLength;
      }
      if (o !== v.size) return undefined;
    }
    if (!bytes) return undefined;
    this.track(id, bytes.byteLength);
    this.unchanged.set(id, new WeakRef(bytes));
    return bytes;
  }

  /** Bytes [offset, offset + length) of a stored object: only the pieces they fall in are read. */
  async read(id: ObjectId, offset: number, length: number): Promise<Uint8Array | undefined> {
    const v = await get<unknown>(id, this.db);
    if (v instanceof Uint8Array) return v.subarray(offset, offset + length);
    if (!isPieced(v)) return undefined;
    if (offset >= v.size) return new Uint8Array(0);
    const end = Math.min(v.size, offset + length);
    const first = Math.floor(offset / PIECE_BYTES);
    const last = Math.max(first, Math.ceil(end / PIECE_BYTES) - 1);
    const got = await getMany<Uint8Array>(
      Array.from({ length: last - first + 1 }, (_, j) => pieceKey(id, first + j)),
      this.db,
    );
    if (!got.every((p) => p instanceof Uint8Array)) return undefined;
    const out = new Uint8Array(end - offset);
    got.forEach((p, j) => {
      const at = (first + j) * PIECE_BYTES;
      const from = Math.max(offset, at);
      const to = Math.min(end, at + p.byteLength);
      if (to > from) out.set(p.subarray(from - at, to - at), from - offset);
    });
    return out;
  }

  async delete(id: ObjectId): Promise<void> {
    this.unchanged.delete(id);
    const v = await get<unknown>(id, this.db);
    await del(id, this.db);
    if (isPieced(v))
      await delMany(
        Array.from({ length: v.pieces }, (_, k) => pieceKey(id, k)),
        this.db,
      );
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
