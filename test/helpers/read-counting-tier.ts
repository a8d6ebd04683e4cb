// A spill tier for unit tests of serving (issue 17): a Map behind the tier
// interface that counts how it is read, to prove an object is never read whole.
import type { ObjectId } from '../../shared/ids.js';
import type { SpillTier } from '../../shared/node/store.js';

const turn = () => new Promise((r) => setImmediate(r));

/** A Map behind the tier interface that counts how it is read. */
export class ReadCountingTier implements SpillTier {
  readonly objects = new Map<ObjectId, Uint8Array>();
  wholeReads = 0;
  largestRead = 0;
  /** Reads in flight. */
  reading = 0;
  put(id: ObjectId, bytes: Uint8Array): Promise<void> {
    this.objects.set(id, bytes.slice());
    return Promise.resolve();
  }
  get(id: ObjectId): Promise<Uint8Array | undefined> {
    this.wholeReads++;
    return Promise.resolve(this.objects.get(id));
  }
  async read(id: ObjectId, offset: number, length: number): Promise<Uint8Array | undefined> {
    this.reading++;
    this.largestRead = Math.max(this.largestRead, length);
    await turn();
    this.reading--;
    return this.objects.get(id)?.slice(offset, offset + length);
  }
  delete(id: ObjectId): Promise<void> {
    this.objects.delete(id);
    return Promise.resolve();
  }
  list(): Promise<ObjectId[]> {
    return Promise.resolve([...this.objects.keys()]);
  }
}
