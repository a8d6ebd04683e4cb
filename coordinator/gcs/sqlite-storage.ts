// Durable GcsStorage on SQLite (better-sqlite3). put/delete only buffer; the
// buffer is appended to one log table in one transaction per flush, either on
// a short timer or at once when it grows to maxBuffered changes; the log is
// compacted to the last write of each live key when it has grown enough. WAL + synchronous=NORMAL: a
// crash loses at most the unflushed tail (and, on power loss, the last
// committed transactions), never corrupts the file.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { TabmeshError } from '../../shared/errors.js';
import { TABLES, type GcsStorage, type TableName } from './storage.js';

export interface SqliteStorageOptions {
  /** Delay between the first buffered change and the automatic flush. Default 20. */
  flushIntervalMs?: number;
  /** Flush at once when this many changes are pending. Default 20000. */
  maxBuffered?: number;
}

interface Statements {
  append: Database.Statement<[string, string, Buffer | null]>;
  load: Database.Statement<[string], [string, Buffer | null]>;
  count: Database.Statement<[], { n: number }>;
  compact: Database.Statement<[]>;
}

/** Compact the log once it holds this many rows, or COMPACT_FACTOR times the rows left after the last compaction. */
const COMPACT_MIN_ROWS = 200_000;
const COMPACT_FACTOR = 4;

export class SqliteStorage implements GcsStorage {
  readonly durable = true;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly st: Statements;
  private logRows = 0;
  private compactAt = COMPACT_MIN_ROWS;
  private compactions = 0;
  /** Per table: key -> value to upsert, or null to delete. */
  private readonly buffer = new Map<TableName, Map<string, Uint8Array | null>>();
  private pending = 0;
  private timer: NodeJS.Timeout | undefined;
  /** An error thrown by a timer-driven flush, rethrown by the next call. */
  private timerError: unknown;
  private closed = false;
  private readonly writeAll: (batches: [TableName, Map<string, Uint8Array | null>][]) => void;
  private flushes = 0;
  private rowsWritten = 0;

  constructor(file: string, opts: SqliteStorageOptions = {}) {
    const flushIntervalMs = opts.flushIntervalMs ?? 20;
    const maxBuffered = opts.maxBuffered ?? 20000;
    if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
      throw new TabmeshError('BAD_ARGUMENT', `flushIntervalMs must be a number >= 0, got ${flushIntervalMs}`);
    }
    if (!Number.isInteger(maxBuffered) || maxBuffered < 1) {
      throw new TabmeshError('BAD_ARGUMENT', `maxBuffered must be an integer >= 1, got ${maxBuffered}`);
    }
    this.file = file;
    this.flushIntervalMs = flushIntervalMs;
    this.maxBuffered = maxBuffered;

    if (file !== ':memory:' && file !== '') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      // One append-only log for all tables: appends fill pages densely in key
      // order, where upserts of random hex keys would dirty a page per row.
      this.db.exec(`CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB)`);
      this.st = {
        append: this.db.prepare<[string, string, Buffer | null]>(`INSERT INTO log (tbl, key, value) VALUES (?, ?, ?)`),
        load: this.db.prepare<[string], [string, Buffer | null]>(`SELECT key, value FROM log WHERE tbl = ? ORDER BY seq`).raw(true),
        count: this.db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM log`),
        // Keep only the last write of each key, and drop deleted keys.
        compact: this.db.prepare(`DELETE FROM log WHERE value IS NULL OR seq NOT IN (SELECT MAX(seq) FROM log GROUP BY tbl, key)`),
      };
      for (const t of TABLES) this.buffer.set(t, new Map());
      this.logRows = this.st.count.get()!.n;
      this.compactAt = Math.max(COMPACT_MIN_ROWS, COMPACT_FACTOR * this.logRows);
    } catch (err) {
      this.db.close();
      throw err;
    }

    this.writeAll = this.db.transaction((batches: [TableName, Map<string, Uint8Array | null>][]) => {
      for (const [table, changes] of batches) {
        for (const [key, value] of changes) this.st.append.run(table, key, value === null ? null : toBuffer(value));
      }
    });
  }

  /** Counters for benchmarks: transactions committed and rows they wrote. */
  get stats(): { flushes: number; rowsWritten: number; logRows: number; compactions: number } {
    return { flushes: this.flushes, rowsWritten: this.rowsWritten, logRows: this.logRows, compactions: this.compactions };
  }

  load(table: TableName): Iterable<[key: string, value: Uint8Array]> {
    this.stmts(table);
    this.flush();
    const rows = new Map<string, Uint8Array>();
    for (const [key, value] of this.st.load.all(table)) {
      if (value === null) rows.delete(key);
      else rows.set(key, value);
    }
    return [...rows];
  }

  /** Rewrites the log down to the live rows (runs on its own once the log has grown enough). */
  compact(): void {
    this.check();
    this.flushNow();
    this.db.transaction(() => this.st.compact.run())();
    this.logRows = this.st.count.get()!.n;
    this.compactAt = Math.max(COMPACT_MIN_ROWS, COMPACT_FACTOR * this.logRows);
    this.compactions++;
  }

  put(table: TableName, key: string, value: Uint8Array): void {
    // Copied: the caller may reuse its encode buffer before the flush.
    this.change(table, key, new Uint8Array(value));
  }

  delete(table: TableName, key: string): void {
    this.change(table, key, null);
  }

  /** Writes everything buffered in one transaction (none if nothing is buffered). */
  flush(): void {
    this.check();
    this.rethrowTimerError();
    this.flushNow();
  }

  /** Flushes and closes the database. Idempotent; any other call after close throws. */
  close(): void {
    if (this.closed) return;
    this.cancelTimer();
    try {
      this.flushNow();
    } finally {
      this.closed = true;
      this.db.close();
    }
  }

  private flushNow(): void {
    this.cancelTimer();
    if (this.pending === 0) return;
    const batches: [TableName, Map<string, Uint8Array | null>][] = [];
    for (const [table, changes] of this.buffer) if (changes.size > 0) batches.push([table, changes]);
    // On failure the transaction rolls back and the buffer is kept for a retry.
    this.writeAll(batches);
    for (const [, changes] of batches) changes.clear();
    this.flushes++;
    this.rowsWritten += this.pending;
    this.logRows += this.pending;
    this.pending = 0;
    if (this.logRows >= this.compactAt) this.compact();
  }

  private change(table: TableName, key: string, value: Uint8Array | null): void {
    this.stmts(table);
    this.rethrowTimerError();
    const changes = this.buffer.get(table)!;
    if (!changes.has(key)) this.pending++;
    changes.set(key, value);
    if (this.pending >= this.maxBuffered) this.flushNow();
    else this.timer ??= setTimeout(() => this.onTimer(), this.flushIntervalMs).unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.closed) return;
    try {
      this.flushNow();
    } catch (err) {
      // Never throw from a timer; report it from the next call instead.
      this.timerError = err;
    }
  }

  private rethrowTimerError(): void {
    if (this.timerError === undefined) return;
    const err = this.timerError;
    this.timerError = undefined;
    throw err as Error;
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private check(): void {
    if (this.closed) throw new TabmeshError('CLOSED', `SqliteStorage ${this.file} is closed`);
  }

  private stmts(table: TableName): void {
    this.check();
    if (!this.buffer.has(table)) throw new TabmeshError('BAD_ARGUMENT', `unknown GCS table '${String(table)}'`);
  }
}

function toBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
