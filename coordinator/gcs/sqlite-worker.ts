// The thread that writes SqliteStorage's log (sqlite-storage.ts, issue 14):
// the coordinator's event loop never runs an INSERT. Batches come in order;
// each is appended to the one log table in one transaction, then
// acknowledged. A batch SQLite refuses (disk full, a locked file) rolls back,
// is reported, and is tried again, before anything newer, with the next
// batch and at close: the log never holds a newer change without the older
// ones. The log is compacted to the last write of each live key here too.
// The thread collects its garbage (the batches' buffers, loaded rows) once
// idle or after many bytes (worker-gc.ts).
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { workerData } from 'node:worker_threads';
import type Database from 'better-sqlite3';
import { SLOT, STATE, WorkerSide, type ToWorker, type WriteBatch } from './worker-wire.js';
import { ThreadCollector } from './worker-gc.js';

export interface SqliteWorkerInit {
  file: string;
  shared: SharedArrayBuffer;
  port: import('node:worker_threads').MessagePort;
}

/** Compact the log once it holds this many rows, or COMPACT_FACTOR times the rows left after the last compaction. */
const COMPACT_MIN_ROWS = 200_000;
const COMPACT_FACTOR = 4;
/** How soon batches SQLite refused are tried again when no newer batch comes. */
const RETRY_MS = 500;

const init = workerData as SqliteWorkerInit;
const side = new WorkerSide(init.shared, init.port);

async function open(): Promise<Database.Database> {
  // Imported here: a native module that does not load (another Node's build) is a clear open failure, not a dead thread.
  const { default: Database } = await import('better-sqlite3');
  if (init.file !== ':memory:' && init.file !== '') mkdirSync(dirname(init.file), { recursive: true });
  const db = new Database(init.file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // One append-only log for all tables: appends fill pages densely in key
    // order, where upserts of random hex keys would dirty a page per row.
    db.exec(`CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB)`);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

async function main(): Promise<void> {
  let db: Database.Database;
  try {
    db = await open();
  } catch (err) {
    side.post({ op: 'connect-failed', message: (err as Error).message });
    side.set(SLOT.state, STATE.failed);
    side.port.close();
    return;
  }
  const append = db.prepare<[string, string, Buffer | null]>(`INSERT INTO log (tbl, key, value) VALUES (?, ?, ?)`);
  const loadRows = db.prepare<[string], [string, Buffer | null]>(`SELECT key, value FROM log WHERE tbl = ? ORDER BY seq`).raw(true);
  const count = db.prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM log`);
  // Keep only the last write of each key, and drop deleted keys.
  const compactLog = db.prepare(`DELETE FROM log WHERE value IS NULL OR seq NOT IN (SELECT MAX(seq) FROM log GROUP BY tbl, key)`);
  let logRows = count.get()!.n;
  let compactAt = Math.max(COMPACT_MIN_ROWS, COMPACT_FACTOR * logRows);
  let compactions = 0;
  side.set(SLOT.logRows, logRows);

  const writeBatch = db.transaction((b: WriteBatch): number => {
    const { buffer, byteOffset } = b.bytes;
    let rows = 0;
    for (const [, tables] of b.groups) {
      for (const [table, keys, spans, dels] of tables) {
        for (let i = 0; i < keys.length; i++) append.run(table, keys[i], Buffer.from(buffer, byteOffset + spans[2 * i], spans[2 * i + 1]));
        for (const key of dels) append.run(table, key, null);
        rows += keys.length + dels.length;
      }
    }
    return rows;
  });

  function compact(): void {
    db.transaction(() => compactLog.run())();
    logRows = count.get()!.n;
    compactAt = Math.max(COMPACT_MIN_ROWS, COMPACT_FACTOR * logRows);
    side.set(SLOT.compactions, ++compactions);
    side.set(SLOT.logRows, logRows);
  }

  /** Batches SQLite refused, oldest first: tried again before anything newer, and on a timer (issue 14). */
  const failed: WriteBatch[] = [];
  let keptRows = 0;
  let retry: NodeJS.Timeout | undefined;
  const rowsOf = (b: WriteBatch): number => {
    let n = 0;
    for (const [, tables] of b.groups) for (const [, keys, , dels] of tables) n += keys.length + dels.length;
    return n;
  };
  function apply(b: WriteBatch | undefined): void {
    if (b) {
      failed.push(b);
      keptRows += rowsOf(b);
    }
    while (failed.length > 0) {
      const next = failed[0];
      let rows: number;
      try {
        rows = writeBatch(next);
      } catch (err) {
        side.post({ op: 'write-failed', seq: next.seq, message: (err as Error).message });
        side.set(SLOT.kept, keptRows);
        // A disk that fills up frees no space by itself being asked: try again a little later, new batches or not.
        retry ??= setTimeout(() => {
          retry = undefined;
          apply(undefined);
        }, RETRY_MS);
        return;
      }
      logRows += rows;
      keptRows -= rows;
      failed.shift();
    }
    side.set(SLOT.kept, 0);
    side.set(SLOT.logRows, logRows);
    if (logRows >= compactAt) {
      try {
        compact();
      } catch (err) {
        side.post({ op: 'write-failed', seq: b?.seq ?? 0, message: `compacting the log: ${(err as Error).message}` });
      }
    }
  }

  const collector = new ThreadCollector();
  collector.collected = () => side.set(SLOT.collections, collector.collections);
  side.post({ op: 'ready' });
  side.set(SLOT.state, STATE.ready);
  side.port.on('message', (m: ToWorker) => {
    switch (m.op) {
      case 'write':
        apply(m);
        // Acknowledged applied or failed: a failure was posted before, so a waiting flush() reports it.
        side.set(SLOT.acked, m.seq);
        collector.took(m.bytes.buffer.byteLength);
        return;
      case 'load': {
        // After every earlier write (the port keeps the order): the rows as written last.
        try {
          const rows = new Map<string, Uint8Array>();
          let bytes = 0;
          for (const [key, value] of loadRows.all(m.table)) {
            if (value === null) rows.delete(key);
            else rows.set(key, value);
            bytes += value?.byteLength ?? 0;
          }
          side.post({ op: 'loaded', id: m.id, rows: [...rows] });
          collector.took(bytes);
        } catch (err) {
          side.post({ op: 'load-failed', id: m.id, message: (err as Error).message });
        }
        return;
      }
      case 'compact':
        try {
          apply(undefined);
          compact();
          side.post({ op: 'compacted', id: m.id });
        } catch (err) {
          side.post({ op: 'load-failed', id: m.id, message: `compacting the log: ${(err as Error).message}` });
        }
        return;
      case 'close':
        clearTimeout(retry);
        collector.stop();
        try {
          apply(undefined); // a last try for batches SQLite refused; reported if it refuses again
        } finally {
          db.close();
          side.post({ op: 'closed' });
          side.set(SLOT.state, STATE.closed);
          side.port.close();
        }
        return;
      default: {
        const never: never = m;
        throw new Error(`unknown message ${JSON.stringify(never)}`);
      }
    }
  });
}

void main();
