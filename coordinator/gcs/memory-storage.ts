// In-memory GcsStorage: rows live in Maps and vanish with the process.
// Useful for tests and for running without a database file.

import { TabmeshError } from '../../shared/errors.js';
import { TABLES, type GcsStorage, type TableName } from './storage.js';

export class MemoryStorage implements GcsStorage {
  readonly durable = false;
  private readonly tables = new Map<TableName, Map<string, Uint8Array>>();
  private closed = false;

  constructor() {
    for (const t of TABLES) this.tables.set(t, new Map());
  }

  load(table: TableName): Iterable<[key: string, value: Uint8Array]> {
    // A snapshot, so callers may put/delete while iterating.
    return [...this.rows(table)];
  }

  put(table: TableName, key: string, value: Uint8Array): void {
    // Copied (Buffer#slice would share memory): the caller may reuse its encode buffer.
    this.rows(table).set(key, new Uint8Array(value));
  }

  delete(table: TableName, key: string): void {
    this.rows(table).delete(key);
  }

  flush(): void {
    this.check();
  }

  /** Idempotent; any other call after close throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tables.clear();
  }

  private check(): void {
    if (this.closed) throw new TabmeshError('CLOSED', 'MemoryStorage is closed');
  }

  private rows(table: TableName): Map<string, Uint8Array> {
    this.check();
    const rows = this.tables.get(table);
    if (!rows) throw new TabmeshError('BAD_ARGUMENT', `unknown GCS table '${String(table)}'`);
    return rows;
  }
}
