// A driver's reads of object values: its own large puts from memory, small
// values as the coordinator's readiness carried them, the rest fetched from a
// holder (peer link or relay), asked again while the object is being rebuilt.
import type { ObjectId } from '../ids.js';
import { BACKOFF, sleepBackoff } from '../backoff.js';
import { GetTimeoutError } from '../errors.js';
import { allocBytes } from '../bytes.js';
import { copyInto } from '../shared-memory.js';
import type { ObjectFetcher } from '../transfer/fetcher.js';
import type { Fetched } from './core.js';
import type { ObjectClient, ReadyInfo } from './object-client.js';
import { untilFailure, withTimeout } from './gather.js';

/** What a driver reads from (DriverCore). */
export interface FetchSource {
  /** Large puts of this driver, by id. */
  readonly ownLarge: Map<ObjectId, Uint8Array>;
  readonly objects: ObjectClient;
  readonly fetcher: ObjectFetcher;
}

/** The values (or failures) of `ids`, in order; GetTimeoutError past `timeoutMs`. */
export function fetchObjects(d: FetchSource, ids: ObjectId[], timeoutMs?: number): Promise<Fetched[]> {
  const work = gather(d, ids);
  if (timeoutMs === undefined) return work;
  return withTimeout(work, timeoutMs, () => new GetTimeoutError(timeoutMs, ids.filter((id) => !d.objects.known(id)).length));
}

/**
 * gather.ts allUntilFailure over every id's fetchOne, with one promise for the whole get: a value that comes with
 * its readiness (inline) or a failure is taken in the readiness callback, and only the rest (own large puts,
 * stored values to fetch) go through fetchOne. A get of 20,000 empty results made three promises and four
 * closures an id (issue 14, session 21). The same answer: every id subscribed, the first failure alone.
 */
function gather(d: FetchSource, ids: ObjectId[]): Promise<Fetched[]> {
  // A driver that gives up reconnecting (its job unknown where it came back, session 38) fails the get: before, a
  // get without a timeout waited for good.
  let off = (): void => {};
  const all = untilFailure(ids.length, (take, fail) => {
    off = d.objects.onClose(fail);
    const slow = (i: number, info?: ReadyInfo): void => void fetchOne(d, ids[i], info).then((f) => take(i, f), fail);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (d.ownLarge.has(id)) {
        slow(i);
        continue;
      }
      const ready = (info: ReadyInfo): void => {
        if (info.failure) take(i, { failure: info.failure });
        else if (info.v) take(i, { bytes: info.v });
        else slow(i, info);
      };
      // Known here already: taken even once the client closed (as before); else waited for.
      const known = d.objects.known(id);
      const closed = known ? null : d.objects.onceReady(id, ready);
      if (known) ready(known);
      else if (closed) fail(closed);
    }
  });
  return all.finally(() => off());
}

/** One object's value or failure; `first`: its readiness, known already (for the first attempt). */
async function fetchOne(d: FetchSource, id: ObjectId, first?: ReadyInfo): Promise<Fetched> {
  const own = d.ownLarge.get(id);
  if (own) {
    // A private copy (session 38): the caller may write into what it decodes (`a.sort()`), and this is the copy
    // that peers read; written in place, every later reader found a hash mismatch and the put was lost for good.
    const copy = allocBytes(own.byteLength, true);
    copyInto(copy, 0, own);
    return { bytes: copy };
  }
  for (let attempt = 0; ; attempt++) {
    const info: ReadyInfo = (attempt === 0 ? first : undefined) ?? d.objects.known(id) ?? (await d.objects.whenReady(id));
    if (info.failure) return { failure: info.failure };
    if (info.v) return { bytes: info.v };
    try {
      return { bytes: (await d.fetcher.fetch(id, info)).bytes };
    } catch (e) {
      if (attempt >= 12) throw e;
      // Its holder may be gone and the object being rebuilt: ask again when it is ready.
      d.objects.invalidate(id);
      await sleepBackoff(BACKOFF.refetch, attempt);
    }
  }
}
