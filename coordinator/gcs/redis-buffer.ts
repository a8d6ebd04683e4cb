// RedisStorage's write buffer (issue 15): changes grouped by job and table,
// their values back to back in one arena, handed to the worker as one batch.
import type { TableName } from './storage.js';
import type { WriteBatch } from './redis-wire.js';

/** Per group, per table: key -> index of its value's span in the arena, or -1 to delete. */
type Buffered = Map<string, Map<TableName, Map<string, number>>>;

export const ARENA_START = 64 * 1024;
/**
 * A batch of at most this many bytes is copied out and the arena kept for the next one: transferred, the
 * arena went whole to the storage thread, 64 KiB for a flush of a few rows, garbage there until that thread
 * collects (bench:soak, session 31: 2,014 flushes of 4.5 rows on average handed the SQLite writer 126 MiB
 * for 9,021 rows), and a new zeroed arena was allocated here for every flush. The copy costs this thread
 * less than that allocation up to ~16 KiB (0.5 against 6.8-9.9 us a flush of 1.5 KB; 1.5 against 4.4 at 16 KB;
 * 6.6 against 4.1 at 30 KB; docs/decisions.md, session 31).
 */
export const COPY_MAX = ARENA_START / 4;
/** Flush at once past this many buffered bytes (a key rewritten many times between flushes). */
export const ARENA_FLUSH = 64 * 1024 * 1024;

export class WriteBuffer {
  private buffer: Buffered = new Map();
  /** Buffered values, back to back; `spans` holds offset and length of each. */
  private arena = new Uint8Array(ARENA_START);
  private arenaUsed = 0;
  private spans: number[] = [];
  private rows = 0;

  /** Changed rows buffered (a key changed twice counts once). */
  get pending(): number {
    return this.rows;
  }

  /** Bytes of values buffered. */
  get bytes(): number {
    return this.arenaUsed;
  }

  /** Copies `value` into the arena (the caller may reuse its encode buffer before the flush); returns its span. */
  store(value: Uint8Array): number {
    if (this.arenaUsed + value.byteLength > this.arena.byteLength) {
      const grown = new Uint8Array(Math.max(this.arena.byteLength * 2, this.arenaUsed + value.byteLength));
      grown.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = grown;
    }
    this.arena.set(value, this.arenaUsed);
    const span = this.spans.length >> 1;
    this.spans.push(this.arenaUsed, value.byteLength);
    this.arenaUsed += value.byteLength;
    return span;
  }

  /** Row `key` of `table` in `group` becomes the value at `span`, or is deleted (-1). */
  change(group: string, table: TableName, key: string, span: number): void {
    let tables = this.buffer.get(group);
    if (!tables) this.buffer.set(group, (tables = new Map<TableName, Map<string, number>>()));
    let rows = tables.get(table);
    if (!rows) tables.set(table, (rows = new Map<string, number>()));
    if (!rows.has(key)) this.rows++;
    rows.set(key, span);
  }

  /** The buffer as write batch `seq` (each group with its fencing token) and the bytes to transfer with it (the arena, or a copy of a small batch's); empties the buffer. */
  take(seq: number, fences: ReadonlyMap<string, string>): { batch: WriteBatch; transfer: ArrayBuffer } {
    const copy = this.arenaUsed <= COPY_MAX;
    const bytes = copy ? this.arena.slice(0, this.arenaUsed) : this.arena.subarray(0, this.arenaUsed);
    const batch: WriteBatch = { op: 'write', seq, bytes, groups: [] };
    for (const [group, tables] of this.buffer) {
      const ts: WriteBatch['groups'][number][1] = [];
      for (const [table, rows] of tables) {
        const keys: string[] = [];
        const dels: string[] = [];
        const spans = new Int32Array(rows.size * 2);
        for (const [k, span] of rows) {
          if (span < 0) {
            dels.push(k);
            continue;
          }
          spans[2 * keys.length] = this.spans[2 * span];
          spans[2 * keys.length + 1] = this.spans[2 * span + 1];
          keys.push(k);
        }
        ts.push([table, keys, spans.subarray(0, keys.length * 2), dels]);
      }
      const fence = fences.get(group);
      batch.groups.push(fence === undefined ? [group, ts] : [group, ts, fence]);
    }
    this.buffer = new Map();
    if (!copy) this.arena = new Uint8Array(ARENA_START);
    this.arenaUsed = 0;
    this.spans = [];
    this.rows = 0;
    return { batch, transfer: bytes.buffer };
  }

  /** Drops the buffered rows of `group`. */
  dropGroup(group: string): void {
    const tables = this.buffer.get(group);
    if (!tables) return;
    for (const rows of tables.values()) this.rows -= rows.size;
    this.buffer.delete(group);
  }
}
