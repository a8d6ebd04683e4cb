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
// load() and an explicit flush() wait for the worker synchronously
// (Atomics.wait), as the interface is synchronous: load runs at start
// (recovery), flush in tests and at close. Timer-driven flushes never block.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { TabmeshError } from '../../shared/errors.js';
import { TABLES, type GcsStorage, type TableName } from './storage.js';
import { checkedOptions, redacted, type RedisStorageOptions } from './redis-options.js';
import { NO_GROUP, SLOT, SLOTS, STATE, type FromWorker, type ToWorker, type WorkerInit } from './redis-wire.js';
import { ARENA_FLUSH, WriteBuffer } from './redis-buffer.js';

function workerFile(): string {
  const here = fileURLToPath(new URL('./redis-worker.js', import.meta.url));
  if (existsSync(here)) return here;
  // Running from sources (vitest): use the built worker.
  const built = fileURLToPath(new URL('../../dist/coordinator/gcs/redis-worker.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error('coordinator/gcs/redis-worker.js not found: run `npm run build` first');
}

export { parseRedisUrl, redacted, type RedisStorageOptions } from './redis-options.js';

export class RedisStorage implements GcsStorage {
  readonly durable = true;
  readonly url: string;
  readonly prefix: string;
  /** Whether the server turned out to be a Cluster, and how many masters it has. */
  readonly cluster: boolean;
  readonly masters: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly timeoutMs: number;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly shared: Int32Array;
  private readonly buf = new WriteBuffer();
  private seq = 0;
  private loads = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A write Redis refused, reported by the worker; rethrown by the next call. */
  private failure: string | undefined;
  /** Set when the worker thread is gone: every later call throws it. */
  private dead: string | undefined;
  private closed = false;
  private flushes = 0;
  private rowsWritten = 0;
  /** Fencing tokens of groups (jobs of a mesh coordinator), sent with each of their flushes. */
  private readonly fences = new Map<string, string>();
  /** Groups Redis refused for a stale token: their writes are dropped here until fenced again. */
  private readonly refused = new Set<string>();
  /** Refused groups not yet taken by takeFenced(). */
  private newlyRefused: string[] = [];
  private fencedWrites = 0;

  constructor(options: RedisStorageOptions) {
    const opts = checkedOptions(options);
    const { prefix, flushIntervalMs, maxBuffered, timeoutMs, connectTimeoutMs } = opts;
    this.url = opts.url;
    this.prefix = prefix;
    this.flushIntervalMs = flushIntervalMs;
    this.maxBuffered = maxBuffered;
    this.timeoutMs = timeoutMs;

    const sab = new SharedArrayBuffer(SLOTS * Int32Array.BYTES_PER_ELEMENT);
    this.shared = new Int32Array(sab);
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const init: WorkerInit = { url: opts.url, prefix, shared: sab, port: port2, connectTimeoutMs };
    this.worker = new Worker(workerFile(), { workerData: init, transferList: [port2] });
    this.worker.unref();
    this.port.unref();
    // A worker that dies takes the connection with it: say so at the next call.
    this.worker.once('error', (err) => {
      this.dead ??= `the Redis worker thread failed: ${err.message}`;
    });
    this.worker.once('exit', (code) => {
      if (!this.closed) this.dead ??= `the Redis worker thread stopped (exit code ${code})`;
    });

    this.waitFor(
      () => Atomics.load(this.shared, SLOT.state) !== STATE.connecting,
      SLOT.state,
      `to connect to Redis at ${redacted(opts.url)}`,
      undefined,
      connectTimeoutMs,
    );
    const first = this.receive();
    if (first?.op !== 'ready') {
      void this.worker.terminate();
      const why = first?.op === 'connect-failed' ? first.message : 'its worker stopped';
      throw new TabmeshError('GCS_UNAVAILABLE', `cannot reach Redis at ${redacted(opts.url)}: ${why}`);
    }
    this.cluster = first.cluster;
    this.masters = first.masters;
  }

  /** Counters for benchmarks and tests: batches handed over, rows they carried, group writes refused by their fence. */
  get stats(): { flushes: number; rowsWritten: number; fencedWrites: number } {
    return { flushes: this.flushes, rowsWritten: this.rowsWritten, fencedWrites: this.fencedWrites };
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

  load(table: TableName): Iterable<[key: string, value: Uint8Array]> {
    this.checkTable(table);
    this.drainNotices();
    this.flushNow();
    const id = ++this.loads;
    this.send({ op: 'load', id, table });
    for (;;) {
      const before = Atomics.load(this.shared, SLOT.posted);
      const m = this.receive();
      if (m?.op === 'loaded' && m.id === id) return m.rows;
      if (m?.op === 'load-failed' && m.id === id) throw new TabmeshError('GCS_UNAVAILABLE', `loading table '${table}' from Redis failed: ${m.message}`);
      if (m) continue; // a notice handled by receive(); look again
      this.waitFor(
        () => Atomics.load(this.shared, SLOT.posted) !== before,
        SLOT.posted,
        `for Redis at ${redacted(this.url)} to return table '${table}'`,
        before,
      );
    }
  }

  put(table: TableName, key: string, value: Uint8Array, group?: string): void {
    this.checkTable(table);
    this.change(table, key, this.buf.store(value), group);
  }

  delete(table: TableName, key: string, group?: string): void {
    this.change(table, key, -1, group);
  }

  /** Hands the buffer to Redis and waits until Redis has applied it. */
  flush(): void {
    this.check();
    this.drainNotices();
    this.flushNow();
    const seq = this.seq;
    this.waitFor(() => Atomics.load(this.shared, SLOT.acked) >= seq, SLOT.acked, `for Redis at ${redacted(this.url)} to acknowledge the last writes`);
    this.drainNotices();
  }

  /** Hands the buffer to the worker now; Redis applies it in the order of all writes (no wait here). */
  flushSoon(): void {
    if (!this.closed && this.dead === undefined) this.flushNow();
  }

  /** Flushes, waits for Redis to apply everything, and stops the worker. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.cancelTimer();
    if (this.dead !== undefined) {
      // Nothing to wait for: the worker (and its connection) is gone.
      this.closed = true;
      if (this.buf.pending > 0) throw new TabmeshError('GCS_UNAVAILABLE', `${this.dead}: ${this.buf.pending} buffered change(s) never reached Redis`);
      return;
    }
    try {
      this.flushNow();
      this.send({ op: 'close' });
      this.waitFor(() => Atomics.load(this.shared, SLOT.state) === STATE.closed, SLOT.state, `for the last writes to reach Redis at ${redacted(this.url)}`);
      this.drainNotices(); // a last write Redis refused is reported, as SQLite's close reports a failed flush
    } finally {
      this.closed = true;
      void this.worker.terminate();
    }
  }

  private change(table: TableName, key: string, span: number, group = NO_GROUP): void {
    this.checkTable(table);
    this.drainNotices();
    if (group.includes('{') || group.includes('}') || group === '') throw new TabmeshError('BAD_ARGUMENT', `bad GCS row group '${group}'`);
    if (this.refused.has(group)) return; // another coordinator owns the job now: its rows are not ours to write
    this.buf.change(group, table, key, span);
    if (this.buf.pending >= this.maxBuffered || this.buf.bytes >= ARENA_FLUSH) this.flushNow();
    else this.timer ??= setTimeout(() => this.onTimer(), this.flushIntervalMs).unref();
  }

  private flushNow(): void {
    this.cancelTimer();
    if (this.buf.pending === 0) return;
    const rows = this.buf.pending;
    const { batch, transfer } = this.buf.take(++this.seq, this.fences);
    this.port.postMessage(batch, [transfer]);
    this.flushes++;
    this.rowsWritten += rows;
  }

  /** Redis refused a group's write for its stale token: nothing more of the group is written, its buffered rows go. */
  private onRefused(group: string): void {
    this.fencedWrites++;
    if (this.refused.has(group)) return;
    this.refused.add(group);
    this.fences.delete(group);
    this.newlyRefused.push(group);
    this.buf.dropGroup(group);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.closed) this.flushNow();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private send(m: ToWorker): void {
    this.port.postMessage(m);
  }

  /** The next message of the worker, if one is there; write failures are kept for the next call. */
  private receive(): FromWorker | undefined {
    const got = receiveMessageOnPort(this.port);
    if (!got) return undefined;
    const m = got.message as FromWorker;
    if (m.op === 'write-failed') this.failure ??= `Redis refused a write: ${m.message}`;
    if (m.op === 'fenced') this.onRefused(m.group);
    return m;
  }

  /** Reads what the worker posted on its own (write failures) and throws the first one. */
  private drainNotices(): void {
    while (this.receive());
    if (this.dead !== undefined && !this.closed)
      throw new TabmeshError('GCS_UNAVAILABLE', `${this.dead}; nothing reaches Redis ${redacted(this.url)} any more`);
    if (this.failure === undefined) return;
    const why = this.failure;
    this.failure = undefined;
    throw new TabmeshError('GCS_UNAVAILABLE', why);
  }

  /** Blocks until `done()`, waking on changes of one shared slot; throws after timeoutMs. */
  private waitFor(done: () => boolean, slot: number, what: string, seen?: number, timeoutMs = this.timeoutMs): void {
    const end = Date.now() + timeoutMs;
    while (!done()) {
      const left = end - Date.now();
      if (left <= 0) {
        if (slot === SLOT.state && Atomics.load(this.shared, SLOT.state) === STATE.connecting) void this.worker.terminate();
        throw new TabmeshError('GCS_UNAVAILABLE', `timed out after ${timeoutMs} ms waiting ${what}`);
      }
      Atomics.wait(this.shared, slot, seen ?? Atomics.load(this.shared, slot), Math.min(left, 100));
    }
  }

  private check(): void {
    if (this.closed) throw new TabmeshError('CLOSED', `RedisStorage ${redacted(this.url)} is closed`);
  }

  private checkTable(table: TableName): void {
    this.check();
    if (!(TABLES as readonly string[]).includes(table)) throw new TabmeshError('BAD_ARGUMENT', `unknown GCS table '${String(table)}'`);
  }
}
