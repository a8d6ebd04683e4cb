// A node's access to objects: the bytes of one from its store, inline, or
// fetched from a peer or the relay (kept as a secondary copy), and, after a
// reconnect or a reload, telling the coordinator what the store still holds.
import type { Fetched } from '../api/core.js';
import { BACKOFF, sleepBackoff } from '../backoff.js';
import { failureOf } from '../errors.js';
import { contentHashAsync } from '../hash.js';
import { artifactObjectId, type ObjectId } from '../ids.js';
import type { MsgOf } from '../protocol/messages.js';
import type { SpillTier } from './store.js';
import type { ObjectAccessContext, ObjectReader } from './node-context.js';

/** Transfers of one object tried before its readers get ObjectLostError (the GCS rebuilds it meanwhile when it can). */
const FETCH_ATTEMPTS = 12;

export class ObjectAccess implements ObjectReader {
  private readonly fetching = new Map<ObjectId, Promise<Fetched>>();

  constructor(private readonly n: ObjectAccessContext) {}

  /** The coordinator asks for a runtime env artifact this node cached: no other copy is left in the mesh (issue 16). */
  async putArtifact(hash: string): Promise<void> {
    const n = this.n;
    const bytes = await n.envCache.read(hash);
    if (!bytes) return;
    const id = artifactObjectId(hash);
    if (bytes.byteLength <= n.inlineMax) return n.send({ t: 'put', id, v: bytes, size: bytes.byteLength, hash, refs: [] });
    n.store.put(id, bytes, { hash, primary: true });
    n.send({ t: 'put', id, size: bytes.byteLength, hash, refs: [] });
  }

  /**
   * The bytes of an object: from the store, inline, or fetched (and kept as a
   * secondary copy). `stored`: the object is known to be stored somewhere (a
   * task's argument not inlined in its assignment): its holders are asked for
   * with its readiness (ObjectFetcher.locateAhead).
   */
  resolve(id: ObjectId, stored = false): Promise<Fetched> {
    const have = this.n.store.getSync(id);
    if (have) return Promise.resolve({ bytes: have });
    let p = this.fetching.get(id);
    if (p) return p;
    p = this.fetchObject(id, stored).finally(() => this.fetching.delete(id));
    this.fetching.set(id, p);
    return p;
  }

  private async fetchObject(id: ObjectId, stored: boolean): Promise<Fetched> {
    const n = this.n;
    const here = await n.store.get(id);
    if (here) return { bytes: here };
    for (let attempt = 0; ; attempt++) {
      // Its holders asked for in the same frame as its readiness (not known here yet: a subscribe goes too).
      const ahead = stored && attempt === 0 && !n.objects.known(id);
      if (ahead) n.fetcher.locateAhead(id);
      const info = await n.objects.whenReady(id).catch((e: unknown) => {
        n.fetcher.dropAhead(id);
        throw e;
      });
      // No fetch follows: the answer sent ahead is not wanted (the fetch below takes it otherwise).
      if (info.failure || info.v) n.fetcher.dropAhead(id);
      if (info.failure) return { failure: info.failure };
      if (info.v) {
        n.inlineBytes.in += info.v.byteLength;
        return { bytes: info.v };
      }
      try {
        // A peer link first, else the relay; the hash is checked either way.
        const { bytes, hash } = await n.fetcher.fetch(id, info);
        n.store.put(id, bytes, { hash, primary: false });
        n.send({ t: 'stored', id, size: bytes.byteLength, hash });
        return { bytes };
      } catch (e) {
        if (attempt >= FETCH_ATTEMPTS) return { failure: failureOf('OBJECT_LOST', id, '', e) };
        // Its holder may be gone and the object being rebuilt: ask again when it is ready.
        n.objects.invalidate(id);
        await sleepBackoff(BACKOFF.refetch, attempt);
      }
    }
  }

  /** A reconnected node still holds what its store holds: the coordinator lists it as their location again. */
  announceHeld(): void {
    const all = this.n.store.list();
    for (let i = 0; i < all.length; i += 1000) {
      this.n.send({ t: 'holding', objects: all.slice(i, i + 1000).map((o) => ({ id: o.id, size: o.size, hash: o.hash })) });
    }
    if (all.length) this.n.onEvent(`re-announced ${all.length} held object(s)`);
  }

  /**
   * After a restart (a reloaded tab): takes back what the tier still holds and
   * tells the coordinator, which lists this node as their location again and
   * answers `free` for what nobody needs any more.
   */
  async recoverStored(tier: SpillTier): Promise<void> {
    const n = this.n;
    let ids: ObjectId[];
    try {
      ids = await tier.list();
    } catch (e) {
      return n.log(`could not list the stored objects: ${(e as Error).message}`);
    }
    let batch: MsgOf<'holding'>['objects'] = [];
    let count = 0;
    let bytes = 0;
    for (const id of ids) {
      if (n.closed) return;
      if (n.store.has(id)) continue;
      const v = await tier.get(id).catch(() => undefined);
      if (!v) continue;
      // Off this thread (issue 17, session 12): WebCrypto in a tab, the hash pool on Node; the tab's JavaScript SHA-256 took 17 ms per MiB.
      const { hash } = await contentHashAsync(v);
      if (n.closed) return;
      if (n.store.has(id)) continue; // it came back meanwhile (a task's result, a fetch)
      n.store.put(id, v, { hash, primary: true });
      await n.store.idle(); // one object in memory at a time
      batch.push({ id, size: v.byteLength, hash });
      count++;
      bytes += v.byteLength;
      if (batch.length >= 1000) {
        n.send({ t: 'holding', objects: batch });
        batch = [];
      }
    }
    if (batch.length) n.send({ t: 'holding', objects: batch });
    if (count) n.onEvent(`re-announced ${count} stored object(s) (${bytes} bytes)`);
  }
}
