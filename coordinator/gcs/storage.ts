// The GCS keeps its hot tables in memory; a GcsStorage makes them durable.
// Writes are buffered and grouped (one transaction per flush, never one
// fsync per task); `load` reads a table back after a restart.

export const TABLES = ['jobs', 'functions', 'tasks', 'objects', 'events', 'kv', 'submitted', 'actors', 'groups', 'detached'] as const;
export type TableName = (typeof TABLES)[number];

export interface GcsStorage {
  /** Whether rows survive the process (false for the in-memory backend). */
  readonly durable: boolean;
  /** Every row of a table, as written last. */
  load(table: TableName): Iterable<[key: string, value: Uint8Array]>;
  /**
   * Buffers an upsert; the last write to a key before a flush wins. `group`
   * is the job the row belongs to, if any: a sharded backend (Redis) keeps a
   * group's rows together. A key is always written and deleted with the same group.
   */
  put(table: TableName, key: string, value: Uint8Array, group?: string): void;
  /** Buffers a delete (with the group the row was put with). */
  delete(table: TableName, key: string, group?: string): void;
  /** Writes everything buffered in one transaction. */
  flush(): void;
  /**
   * Called as a batch is about to leave (a durable backend's timer, size or explicit flush): rows written here join
   * it, in the same transaction (job-gone.ts: a job's counts with the deletes of the task rows they count).
   */
  beforeFlush?: () => void;
  /**
   * Between these two, no batch leaves for its size (one due then leaves at the release): the writes of one change
   * stay in one batch (Gcs.dropTask: a task row's delete and the job's `gone` that counts it). Calls nest. Only a
   * backend that flushes for size on a write (SQLite, Redis) has them.
   */
  holdFlushes?(): void;
  releaseFlushes?(): void;
  /**
   * Hands what is buffered to the backend at once, without waiting for it to
   * apply (a rare row a takeover needs: where an actor's constructor runs,
   * issue 15). Only a backend that writes from another thread (Redis) has it.
   */
  flushSoon?(): void;
  /** Flushes and releases the backend. */
  close(): void;
  /**
   * Fences a group's writes with a token (a job's lease epoch, issue 15): they
   * apply only while the backend still holds that token for the group. Only a
   * shared backend (Redis) has it.
   */
  fence?(group: string, token: string): void;
  /** Groups whose writes were refused since the last call (another coordinator holds their lease); their later writes are dropped until fenced again. */
  takeFenced?(): string[];
  /**
   * Why the coordinator should admit no new work now: the backend refuses
   * writes and the rows kept for it grew past their bound (issue 14). Only a
   * backend that keeps refused writes to try again has it.
   */
  backlog?(): string | undefined;
  /** Rows of refused writes kept to write later (0 while the backend takes writes). */
  readonly keptRows?: number;
  /** Batches handed to the backend and rows in them (a row changed twice between flushes counts once): durable backends only. */
  readonly stats?: { flushes: number; rowsWritten: number };
}
