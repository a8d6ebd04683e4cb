// What a durable storage backend's main-thread side (worker-storage.ts) and
// its worker thread (redis-worker.ts, sqlite-worker.ts) say to each other.
// Writes and requests go down a MessagePort in order; the worker answers on
// the same port and bumps a shared counter, so the main thread can wait for
// an answer synchronously (Atomics.wait + receiveMessageOnPort): the
// GcsStorage interface is synchronous, the work is not on the main thread.
import type { MessagePort } from 'node:worker_threads';

/** Slots of the shared Int32Array. */
export const SLOT = {
  /** 0 connecting, 1 ready, 2 failed to connect, 3 closed. */
  state: 0,
  /** Bumped after each message the worker posts. */
  posted: 1,
  /** The last write batch the backend acknowledged (applied, or failed and reported). */
  acked: 2,
  /** SQLite: rows in the log table, and compactions run (for stats). */
  logRows: 3,
  compactions: 4,
  /** Rows of the batches the backend refused and the worker keeps to try again (0: none kept). */
  kept: 5,
  /** Collections the thread made on its own schedule (worker-gc.ts), for stats. */
  collections: 6,
  /** 1 once the thread runs (its modules loaded): the open timeout counts from here (worker-start.ts). */
  started: 7,
} as const;
export const SLOTS = 8;

export const STATE = { connecting: 0, ready: 1, failed: 2, closed: 3 } as const;

/**
 * One flush: per group, per table, the rows to set and the keys to delete.
 * Values are spans of one buffer (`bytes`, transferred, not copied): one
 * allocation and one clone per flush rather than one per row.
 */
export interface WriteBatch {
  op: 'write';
  seq: number;
  bytes: Uint8Array;
  /**
   * `spans[2i]`, `spans[2i + 1]`: offset and length in `bytes` of the value of `keys[i]`.
   * `fence`: the group's fencing token (a job's lease epoch, coordinator/mesh; Redis only): the
   * group's changes apply only while `<prefix>:{group}:fence` still holds it.
   */
  groups: [group: string, tables: [table: string, keys: string[], spans: Int32Array, dels: string[]][], fence?: string][];
}

export type ToWorker = WriteBatch | { op: 'load'; id: number; table: string } | { op: 'compact'; id: number } | { op: 'close' };

export type FromWorker =
  | { op: 'ready'; cluster?: boolean; masters?: number }
  | { op: 'connect-failed'; message: string }
  | { op: 'loaded'; id: number; rows: [key: string, value: Uint8Array][] }
  | { op: 'load-failed'; id: number; message: string }
  | { op: 'compacted'; id: number }
  /** A write batch the backend refused (Redis: not a lost connection, those are retried). */
  | { op: 'write-failed'; seq: number; message: string }
  /** A fenced group's changes were refused: another coordinator took its lease since (nothing of them applied). */
  | { op: 'fenced'; seq: number; group: string }
  | { op: 'closed' };

/** The worker's side of the shared slots and the port. */
export class WorkerSide {
  readonly shared: Int32Array;

  constructor(
    shared: SharedArrayBuffer,
    readonly port: MessagePort,
  ) {
    this.shared = new Int32Array(shared);
    // Its modules are loaded: the open timeout counts from now (a thread slow to start on a loaded machine is not
    // a backend slow to answer).
    Atomics.store(this.shared, SLOT.started, 1);
    Atomics.notify(this.shared, SLOT.state);
  }

  post(m: FromWorker): void {
    this.port.postMessage(m);
    Atomics.add(this.shared, SLOT.posted, 1);
    Atomics.notify(this.shared, SLOT.posted);
  }

  set(slot: number, value: number): void {
    Atomics.store(this.shared, slot, value);
    Atomics.notify(this.shared, slot);
  }
}
