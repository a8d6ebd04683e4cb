// Durable GcsStorage on Redis, standalone or Cluster (issue 15). put/delete
// only buffer, grouped by job; a flush, on a short timer or at once when the
// buffer grows to maxBuffered changes, hands the whole buffer to a worker
// thread (redis-worker.ts) that writes each job's changes in one MULTI of a
// few multi-field HSET/HDEL, pipelined: never one round trip per task.
//
// Layout: one hash per (group, table), `<prefix>:{<group>}:<table>`, field =
// row key. A group is the job a row belongs to (the caller says which), or
// `_` for rows of no job; the braces are a Cluster hash tag, so a job's
// tasks, objects and job row share a slot and move together, and a Cluster
// spreads jobs across its masters.
//
// The buffer, the batches and the synchronous waits are WorkerStorage's
// (worker-storage.ts), shared with SqliteStorage.
import { SLOT, type FromWorker } from './worker-wire.js';
import { startWorker, WorkerStorage, type StartedWorker, type WorkerStorageSetup } from './worker-storage.js';
import { checkedOptions, redacted, type RedisStorageOptions } from './redis-options.js';
import type { WorkerInit } from './redis-wire.js';

export { parseRedisUrl, redacted, type RedisStorageOptions } from './redis-options.js';

function redisSetup(opts: ReturnType<typeof checkedOptions>): WorkerStorageSetup {
  const { prefix, flushIntervalMs, maxBuffered, timeoutMs, connectTimeoutMs } = opts;
  const data: Omit<WorkerInit, 'shared' | 'port'> = { url: opts.url, prefix, connectTimeoutMs };
  return {
    file: 'redis-worker.js',
    data,
    name: `Redis at ${redacted(opts.url)}`,
    openFailure: 'cannot reach',
    flushIntervalMs,
    maxBuffered,
    timeoutMs,
    openTimeoutMs: connectTimeoutMs,
  };
}

export class RedisStorage extends WorkerStorage {
  readonly url: string;
  readonly prefix: string;
  /** Whether the server turned out to be a Cluster, and how many masters it has. */
  readonly cluster: boolean;
  readonly masters: number;
  /** Fencing tokens of groups (jobs of a mesh coordinator), sent with each of their flushes. */
  private readonly fences = new Map<string, string>();
  /** Groups Redis refused for a stale token: their writes are dropped here until fenced again. */
  private readonly refused = new Set<string>();
  /** Refused groups not yet taken by takeFenced(). */
  private newlyRefused: string[] = [];
  private fencedWrites = 0;

  /** Connects, waiting (blocking) for the worker: tests and tools; `startCoordinator` uses `RedisStorage.open`. */
  constructor(options: RedisStorageOptions, started?: StartedWorker) {
    const opts = checkedOptions(options);
    super(redisSetup(opts), started);
    this.url = opts.url;
    this.prefix = opts.prefix;
    this.cluster = this.ready.cluster ?? false;
    this.masters = this.ready.masters ?? 1;
  }

  /** Connects with the worker started on the event loop (startWorker): one that dies at start is noticed at once. */
  static async open(options: RedisStorageOptions): Promise<RedisStorage> {
    return new RedisStorage(options, await startWorker(redisSetup(checkedOptions(options))));
  }

  /**
   * Counters for benchmarks and tests: batches handed over, rows they carried, group writes refused by their fence,
   * collections the thread made of its garbage (worker-gc.ts).
   */
  get stats(): { flushes: number; rowsWritten: number; fencedWrites: number; collections: number } {
    return { ...this.counts, fencedWrites: this.fencedWrites, collections: Atomics.load(this.shared, SLOT.collections) };
  }

  fence(group: string, token: string): void {
    this.fences.set(group, token);
    this.refused.delete(group);
  }

  takeFenced(): string[] {
    this.drainNotices();
    const out = this.newlyRefused;
    this.newlyRefused = [];
    return out;
  }

  /** Another coordinator owns the job now: its rows are not ours to write. */
  protected override accepts(group: string): boolean {
    return !this.refused.has(group);
  }

  protected override fencesOf(): ReadonlyMap<string, string> {
    return this.fences;
  }

  /** Redis refused a group's write for its stale token: nothing more of the group is written, its buffered rows go. */
  protected override onNotice(m: FromWorker): void {
    if (m.op !== 'fenced') return;
    this.fencedWrites++;
    if (this.refused.has(m.group)) return;
    this.refused.add(m.group);
    this.fences.delete(m.group);
    this.newlyRefused.push(m.group);
    this.buf.dropGroup(m.group);
  }
}
