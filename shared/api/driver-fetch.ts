// A driver's reads of object values: its own large puts from memory, small
// values as the coordinator's readiness carried them, the rest fetched from a
// holder (peer link or relay), asked again while the object is being rebuilt.
import type { ObjectId } from '../ids.js';
import { BACKOFF, sleepBackoff } from '../backoff.js';
import { GetTimeoutError } from '../errors.js';
import { expose } from '../bytes.js';
import type { ObjectFetcher } from '../transfer/fetcher.js';
import type { Fetched } from './core.js';
import type { ObjectClient, ReadyInfo } from './object-client.js';
import { allUntilFailure, withTimeout } from './gather.js';

/** What a driver reads from (DriverCore). */
export interface FetchSource {
  /** Large puts of this driver, by id. */
  readonly ownLarge: Map<ObjectId, Uint8Array>;
  readonly objects: ObjectClient;
  readonly fetcher: ObjectFetcher;
}

/** The values (or failures) of `ids`, in order; GetTimeoutError past `timeoutMs`. */
export function fetchObjects(d: FetchSource, ids: ObjectId[], timeoutMs?: number): Promise<Fetched[]> {
  const work = allUntilFailure(ids.map((id) => fetchOne(d, id)));
  if (timeoutMs === undefined) return work;
  return withTimeout(work, timeoutMs, () => new GetTimeoutError(timeoutMs, ids.filter((id) => !d.objects.known(id)).length));
}

async function fetchOne(d: FetchSource, id: ObjectId): Promise<Fetched> {
  const own = d.ownLarge.get(id);
  if (own) {
    expose(own); // the reader may view it in place
    return { bytes: own };
  }
  for (let attempt = 0; ; attempt++) {
    const info: ReadyInfo = d.objects.known(id) ?? (await d.objects.whenReady(id));
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
