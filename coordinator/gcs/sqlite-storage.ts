// Durable GcsStorage on SQLite (better-sqlite3). put/delete only buffer; a
// flush, on a short timer or at once when the buffer grows to maxBuffered
// changes, hands the buffer to a worker thread (sqlite-worker.ts, issue 14:
// the SQLite writes cost the coordinator's loop as much as the tasks they
// record) that appends it to one log table in one transaction; the log is
// compacted to the last write of each live key when it has grown enough.
// WAL + synchronous=NORMAL: a crash loses at most the unflushed tail (and, on
// power loss, the last committed transactions), never corrupts the file. The
// buffer and the synchronous waits are WorkerStorage's (worker-storage.ts),
// shared with RedisStorage.

import { TabmeshError } from '../../shared/errors.js';
import { SLOT, type ToWorker } from './worker-wire.js';
import { MAX_KEPT_ROWS, startWorker, WorkerStorage, type StartedWorker, type WorkerStorageSetup } from './worker-storage.js';
import type { SqliteWorkerInit } from './sqlite-worker.js';

export interface SqliteStorageOptions {
  /** Delay between the first buffered change and the automatic flush. Default 20. */
  flushIntervalMs?: number;
  /** Flush at once when this many changes are pending. Default 20000. */
  maxBuffered?: number;
  /** Rows kept while SQLite refuses writes (a full disk) before new tasks are refused. Default MAX_KEPT_ROWS (200,000). */
  maxKeptRows?: number;
  /** How long flush, load, compact and close wait for the writer thread before GCS_UNAVAILABLE. Default 60000. */
  timeoutMs?: number;
}

function sqliteSetup(file: string, opts: SqliteStorageOptions): WorkerStorageSetup {
  const flushIntervalMs = opts.flushIntervalMs ?? 20;
  const maxBuffered = opts.maxBuffered ?? 20000;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 0) {
    throw new TabmeshError('BAD_ARGUMENT', `flushIntervalMs must be a number >= 0, got ${flushIntervalMs}`);
  }
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1) {
    throw new TabmeshError('BAD_ARGUMENT', `maxBuffered must be an integer >= 1, got ${maxBuffered}`);
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TabmeshError('BAD_ARGUMENT', `timeoutMs must be a number > 0, got ${timeoutMs}`);
  const maxKeptRows = opts.maxKeptRows ?? MAX_KEPT_ROWS;
  if (!Number.isInteger(maxKeptRows) || maxKeptRows < 1) throw new TabmeshError('BAD_ARGUMENT', `maxKeptRows must be an integer >= 1, got ${maxKeptRows}`);
  const data: Omit<SqliteWorkerInit, 'shared' | 'port'> = { file };
  return {
    file: 'sqlite-worker.js',
    data,
    name: `SQLite file ${file}`,
    openFailure: 'cannot open',
    flushIntervalMs,
    maxBuffered,
    timeoutMs,
    openTimeoutMs: timeoutMs,
    maxKeptRows,
  };
}

export class SqliteStorage extends WorkerStorage {
  readonly file: string;

  /**
   * Opens the file, waiting (blocking) for the writer thread: tests and
   * tools. `startCoordinator` uses `SqliteStorage.open`, which waits on the
   * event loop and notices a thread that dies at start at once.
   */
  constructor(file: string, opts: SqliteStorageOptions = {}, started?: StartedWorker) {
    super(sqliteSetup(file, opts), started);
    this.file = file;
  }

  /** Opens the file with the writer thread started on the event loop (startWorker). */
  static async open(file: string, opts: SqliteStorageOptions = {}): Promise<SqliteStorage> {
    return new SqliteStorage(file, opts, await startWorker(sqliteSetup(file, opts)));
  }

  /**
   * Counters for benchmarks: batches handed to the writer thread, rows they carried; rows in the log as of the last
   * batch applied, compactions; collections the writer made of its garbage (worker-gc.ts).
   */
  get stats(): { flushes: number; rowsWritten: number; logRows: number; compactions: number; collections: number } {
    const slot = (i: number) => Atomics.load(this.shared, i);
    return { ...this.counts, logRows: slot(SLOT.logRows), compactions: slot(SLOT.compactions), collections: slot(SLOT.collections) };
  }

  /** Rewrites the log down to the live rows (runs on its own once the log has grown enough). */
  compact(): void {
    this.check();
    this.drainNotices();
    this.flushNow();
    const id = this.nextRequestId();
    const m = this.request({ op: 'compact', id } satisfies ToWorker, id, 'to compact its log');
    if (m.op !== 'compacted') throw new TabmeshError('GCS_UNAVAILABLE', `compacting ${this.name} failed: ${m.op === 'load-failed' ? m.message : m.op}`);
  }
}
