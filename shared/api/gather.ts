// Waiting on several objects at once, shared by drivers and node runtimes (an
// executor's get and wait are served by its node): all or the first failure,
// the first n ready, and a timeout around either.
import type { ObjectId } from '../ids.js';
import type { Fetched } from './core.js';

/**
 * The contents of several objects in order, or, as soon as one of them failed,
 * that failure alone (Ray's get raises at once; it does not wait for the rest).
 */
export function allUntilFailure(work: Promise<Fetched>[]): Promise<Fetched[]> {
  return untilFailure(work.length, (take, fail) => work.forEach((p, i) => void p.then((f) => take(i, f), fail)));
}

/**
 * `n` results in order, each given by `start` through `take(i, f)`, or the first failure alone; `fail` rejects.
 * allUntilFailure over promises, and a driver's get that takes most values in callbacks (driver-fetch.ts).
 */
export function untilFailure(n: number, start: (take: (i: number, f: Fetched) => void, fail: (e: unknown) => void) => void): Promise<Fetched[]> {
  return new Promise((resolve, reject) => {
    const out = new Array<Fetched>(n);
    let left = n;
    let settled = false;
    if (left === 0) return resolve(out);
    const take = (i: number, f: Fetched): void => {
      if (settled) return;
      if (f.failure) {
        settled = true;
        return resolve([f]);
      }
      out[i] = f;
      if (--left === 0) {
        settled = true;
        resolve(out);
      }
    };
    start(take, (e) => {
      if (settled) return;
      settled = true;
      reject(e);
    });
  });
}

/**
 * Resolves with the ready ids once `numReturns` of them are ready, or at the
 * timeout. The timeout counts from `barrier` (the coordinator having answered
 * the readiness questions): with timeoutMs 0, what is ready now is reported
 * ready, however long the answer took to come (issue 13).
 */
export function waitFor(
  ids: ObjectId[],
  numReturns: number,
  timeoutMs: number | undefined,
  whenReady: (id: ObjectId) => Promise<void>,
  barrier: () => Promise<void> = () => Promise.resolve(),
): Promise<Set<ObjectId>> {
  const ready = new Set<ObjectId>();
  return new Promise((resolve, reject) => {
    let done = false;
    let timer: unknown;
    const finish = () => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      resolve(ready);
    };
    if (numReturns <= 0) return finish();
    for (const id of ids) {
      whenReady(id).then(
        () => {
          ready.add(id);
          if (ready.size >= numReturns) finish();
        },
        (e) => {
          if (!done) {
            done = true;
            reject(e);
          }
        },
      );
    }
    if (timeoutMs !== undefined) {
      barrier().then(
        () => {
          if (!done) timer = setTimeout(finish, timeoutMs);
        },
        () => {
          if (!done) timer = setTimeout(finish, timeoutMs);
        },
      );
    }
  });
}

export function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(err()), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
