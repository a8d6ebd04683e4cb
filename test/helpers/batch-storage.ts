// A GcsStorage durable as far as the GCS can tell: changes wait in a buffer and a flush (after beforeFlush) makes
// them one batch, kept for the test to read. The fixture of the white-box tests of a job's counts across a restart
// (job-gone, recovery-late-driver).
import { Coordinator } from '../../coordinator/coordinator.js';
import type { CoordinatorOptions } from '../../coordinator/coordinator-options.js';
import type { GcsStorage, TableName } from '../../coordinator/gcs/storage.js';
import { fn, fnId } from './white-box.js';

export type Change = [table: TableName, key: string, value: Uint8Array | null];

export class BatchStorage implements GcsStorage {
  readonly durable = true;
  beforeFlush?: () => void;
  buffer: Change[] = [];
  readonly batches: Change[][] = [];
  load(): Iterable<[string, Uint8Array]> {
    return [];
  }
  put(table: TableName, key: string, value: Uint8Array): void {
    this.buffer.push([table, key, value]);
  }
  delete(table: TableName, key: string): void {
    this.buffer.push([table, key, null]);
  }
  flush(): void {
    if (this.buffer.length) this.beforeFlush?.();
    if (this.buffer.length) this.batches.push(this.buffer);
    this.buffer = [];
  }
  close(): void {}
}

/** A coordinator on a BatchStorage with white-box.ts's `fn` registered, pushed on `made` (the test closes them). */
export function batchCoordinatorIn(made: Coordinator[], opts: Omit<CoordinatorOptions, 'storage'> = {}): { co: Coordinator; storage: BatchStorage } {
  const storage = new BatchStorage();
  const co = new Coordinator({ ...opts, storage });
  made.push(co);
  co.gcs.addFunction({ ...fn, fnId });
  return { co, storage };
}
