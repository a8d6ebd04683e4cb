// A spilled object served from the store's lower tier (issue 17): read a
// window at a time while it is sent (transfer/source.ts), never whole. Its
// leaves are those the store kept when it spilled it, else read back once,
// a window at a time, and kept (32 bytes per 64 KiB).
import { HASH_CHUNK, LEAF_BYTES, chunkCount, leafHashes } from '../hash.js';
import type { ObjectId } from '../ids.js';
import { STREAM_WINDOW, type ObjectSource } from '../transfer/source.js';
import type { SpillTier } from './spill-tier.js';
import type { Entry } from './store-lru.js';

type Readable = Required<Pick<SpillTier, 'read'>>;

export function spilledSource(tier: Readable, e: Entry): ObjectSource {
  const read = async (o: number, n: number): Promise<Uint8Array> => {
    const b = await tier.read(e.id, o, n);
    if (!b) throw new Error(`${e.id} is no longer in the tier`);
    return b;
  };
  return {
    size: e.size,
    read,
    leaves() {
      e.leaves ??= leavesFromTier(e.id, e.size, read).then(
        (l) => (e.leaves = l),
        (err: unknown) => {
          e.leaves = undefined;
          throw err;
        },
      );
      return Promise.resolve(e.leaves);
    },
  };
}

async function leavesFromTier(id: ObjectId, size: number, read: (o: number, n: number) => Promise<Uint8Array>): Promise<Uint8Array> {
  const out = new Uint8Array(chunkCount(size) * LEAF_BYTES);
  for (let o = 0; o < size; o += STREAM_WINDOW) {
    const n = Math.min(STREAM_WINDOW, size - o);
    const b = await read(o, n);
    if (b.byteLength !== n) throw new Error(`${id}: the tier has ${o + b.byteLength} bytes, not ${size}`);
    out.set(leafHashes(b), (o / HASH_CHUNK) * LEAF_BYTES);
  }
  return out;
}
