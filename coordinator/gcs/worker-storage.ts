// A durable GcsStorage whose writes run in a worker thread (issue 14, issue
// 15): the coordinator's loop only buffers. put/delete copy values back to
// back into one arena (redis-buffer.ts); a flush, on a short timer or at once
// when the buffer grows to maxBuffered changes, hands the whole buffer to the
// worker as one message with the arena transferred, not copied. The worker
// applies batches in order and acknowledges each in a shared slot.
//
// load() and an explicit flush() wait for the worker synchronously
// (Atomics.wait + receiveMessageOnPort), as the interface is synchronous:
// load runs at start (recovery), flush in tests and at close; a wait longer
// than timeoutMs throws GCS_UNAVAILABLE. Timer-driven flushes never block. A
// write the backend refused is reported by the next call. RedisStorage and
// SqliteStorage are this class with their own worker.
import { receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { TabmeshError } from '../../shared/errors.js';
import { TABLES, type GcsStorage, type TableName } from './storage.js';
import { NO_GROUP } from './redis-wire.js';
import { SLOT, STATE, type FromWorker, type ToWorker } from './worker-wire.js';
import { ARENA_FLUSH, WriteBuffer } from './redis-buffer.js';
import { launch, MAX_KEPT_ROWS, type StartedWorker, type WorkerStorageSetup } from './worker-start.js';

export { MAX_KEPT_ROWS, startWorker, type StartedWorker, type WorkerStorageSetup } from './worker-start.js';

export abstract class WorkerStorage implements GcsStorage {
  readonly durable = true;
  protected readonly name: string;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly timeoutMs: number;
  private readonly maxKeptRows: number;
  /** The backend's last refusal, kept for `backlog` (the failure itself is thrown once, by the next flush). */
  private lastRefusal = '';
  protected readonly worker: Worker;
  private readonly port: MessagePort;
  protected readonly shared: Int32Array;
  protected readonly buf = new WriteBuffer();
  /** What the worker said when it was ready. */
  protected readonly ready: Extract<FromWorker, { op: 'ready' }>;
  private seq = 0;
  private requests = 0;
  private timer: NodeJS.Timeout | undefined;
  /** A write the backend refused, reported by the worker; rethrown by the next call. */
  private failure: string | undefined;
  /** Set when the worker thread is gone: every later call throws it. */
  private dead: string | undefined;
  protected closed = false;
  private flushes = 0;
  private rowsWritten = 0;
  beforeFlush: (() => void) | undefined = undefined;
  /** In beforeFlush: a flush its writes cause (a full buffer) takes them without calling it again. */
  private inBeforeFlush = false;
  /** holdFlushes() calls not released yet: no flush for size meanwhile. */
  private holds = 0;

  /**
   * Starts the worker and waits (blocking) for it to open the backend; with
   * `started` (from `startWorker`, issue 14) the worker is ready already: the
   * asynchronous `open` of each backend waited on the event loop instead.
   */
  constructor(setup: WorkerStorageSetup, started?: StartedWorker) {
    this.name = setup.name;
    this.flushIntervalMs = setup.flushIntervalMs;
    this.maxBuffered = setup.maxBuffered;
    this.timeoutMs = setup.timeoutMs;
    this.maxKeptRows = setup.maxKeptRows ?? MAX_KEPT_ROWS;
    const w = started ?? launch(setup);
    this.shared = w.shared;
    this.port = w.port;
    this.worker = w.worker;
    // A worker that dies takes the backend with it: say so at the next call.
    this.worker.once('error', (err) => {
      this.dead ??= `the ${setup.file} thread failed: ${err.message}`;
    });
    this.worker.once('exit', (code) => {
      if (!this.closed) this.dead ??= `the ${setup.file} worker thread stopped (exit code ${code})`;
    });

    if (!started)
      this.waitFor(() => Atomics.load(this.shared, SLOT.state) !== STATE.connecting, SLOT.state, `to open ${this.name}`, undefined, setup.openTimeoutMs);
    const first = this.receive();
    if (first?.op !== 'ready') {
      void this.worker.terminate();
      const why = first?.op === 'connect-failed' ? first.message : 'its worker stopped';
      throw new TabmeshError('GCS_UNAVAILABLE', `${setup.openFailure} ${this.name}: ${why}`);
    }
    this.ready = first;
  }

  /** Counters for benchmarks and tests: batches handed over and rows they carried. */
  protected get counts(): { flushes: number; rowsWritten: number } {
    return { flushes: this.flushes, rowsWritten: this.rowsWritten };
  }

  /** Rows of refused batches the storage thread keeps to write once the backend takes them again (0 while it takes them). */
  get keptRows(): number {
    return Atomics.load(this.shared, SLOT.kept);
  }

  /**
   * Why new work should wait, while the backend refuses writes and the rows
   * kept for it reached maxKeptRows (issue 14): nothing acknowledged is lost
   * (the thread keeps them in order and tries again on its own), but the
   * coordinator admits nothing new that would grow them. Undefined otherwise.
   */
  backlog(): string | undefined {
    const kept = this.keptRows + this.buf.pending;
    if (this.keptRows === 0 || kept < this.maxKeptRows) return undefined;
    while (this.receive()); // the latest refusal
    return `${this.lastRefusal || `${this.name} refuses writes`}; ${kept} changes wait in memory (at most ${this.maxKeptRows} before new work is refused)`;
  }

  load(table: TableName): Iterable<[key: string, value: Uint8Array]> {
    this.checkTable(table);
    this.drainNotices();
    this.flushNow();
    const id = ++this.requests;
    const m = this.request({ op: 'load', id, table }, id, `to return table '${table}'`);
    if (m.op === 'loaded') return m.rows;
    throw new TabmeshError('GCS_UNAVAILABLE', `loading table '${table}' from ${this.name} failed: ${m.op === 'load-failed' ? m.message : m.op}`);
  }

  put(table: TableName, key: string, value: Uint8Array, group?: string): void {
    this.checkTable(table);
    this.change(table, key, this.buf.store(value), group);
  }

  delete(table: TableName, key: string, group?: string): void {
    this.change(table, key, -1, group);
  }

  /** Hands the buffer to the worker and waits until the backend has applied it. */
  flush(): void {
    this.check();
    this.drainNotices();
    this.flushNow();
    const seq = this.seq;
    this.waitFor(() => Atomics.load(this.shared, SLOT.acked) >= seq, SLOT.acked, `for ${this.name} to acknowledge the last writes`);
    this.drainNotices();
  }

  /** Hands the buffer to the worker now; the backend applies it in the order of all writes (no wait here). */
  flushSoon(): void {
    if (!this.closed && this.dead === undefined) this.flushNow();
  }

  /** Flushes, waits for the backend to apply everything, and stops the worker. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.cancelTimer();
    if (this.dead !== undefined) {
      // Nothing to wait for: the worker (and its backend) is gone.
      this.closed = true;
      if (this.buf.pending > 0) throw new TabmeshError('GCS_UNAVAILABLE', `${this.dead}: ${this.buf.pending} buffered change(s) never reached ${this.name}`);
      return;
    }
    try {
      this.flushNow();
      this.port.postMessage({ op: 'close' } satisfies ToWorker);
      this.waitFor(() => Atomics.load(this.shared, SLOT.state) === STATE.closed, SLOT.state, `for the last writes to reach ${this.name}`);
      this.drainNotices(); // a last write the backend refused is reported
    } finally {
      this.closed = true;
      void this.worker.terminate();
    }
  }

  /** Whether a change of `group` is written at all (Redis: not a group another coordinator fenced off). */
  protected accepts(_group: string): boolean {
    return true;
  }

  /** The groups' fencing tokens sent with a batch (Redis). */
  protected fencesOf(): ReadonlyMap<string, string> {
    return NO_FENCES;
  }

  /** A message of the worker other than answers and write failures (Redis: a fenced group). */
  protected onNotice(_m: FromWorker): void {}

  /** Sends a request and waits for the worker's answer to it (an answer carrying `id`). */
  protected request(m: ToWorker, id: number, what: string): FromWorker {
    this.port.postMessage(m);
    for (;;) {
      const before = Atomics.load(this.shared, SLOT.posted);
      const got = this.receive();
      if (got && 'id' in got && got.id === id) return got;
      if (got) continue; // a notice handled by receive(); look again
      this.waitFor(() => Atomics.load(this.shared, SLOT.posted) !== before, SLOT.posted, `for ${this.name} ${what}`, before);
    }
  }

  protected nextRequestId(): number {
    return ++this.requests;
  }

  private change(table: TableName, key: string, span: number, group = NO_GROUP): void {
    this.checkTable(table);
    // Not drainNotices: a refusal is not thrown into the caller's change (a task half admitted); the
    // thread keeps the rows, `backlog` holds new work back, and flush/close report it.
    while (this.receive());
    if (this.dead !== undefined) throw new TabmeshError('GCS_UNAVAILABLE', `${this.dead}; nothing reaches ${this.name} any more`);
    if (group.includes('{') || group.includes('}') || group === '') throw new TabmeshError('BAD_ARGUMENT', `bad GCS row group '${group}'`);
    if (!this.accepts(group)) return;
    this.buf.change(group, table, key, span);
    if (this.holds === 0 && this.full()) this.flushNow();
    else this.timer ??= setTimeout(() => this.onTimer(), this.flushIntervalMs).unref();
  }

  private full(): boolean {
    return this.buf.pending >= this.maxBuffered || this.buf.bytes >= ARENA_FLUSH;
  }

  holdFlushes(): void {
    this.holds++;
  }

  releaseFlushes(): void {
    if (this.holds > 0 && --this.holds === 0 && this.full() && !this.closed && this.dead === undefined) this.flushNow();
  }

  protected flushNow(): void {
    if (this.beforeFlush && !this.inBeforeFlush && this.buf.pending > 0) {
      this.inBeforeFlush = true;
      try {
        this.beforeFlush();
      } finally {
        this.inBeforeFlush = false;
      }
    }
    this.cancelTimer();
    if (this.buf.pending === 0) return;
    const rows = this.buf.pending;
    const { batch, transfer } = this.buf.take(++this.seq, this.fencesOf());
    this.port.postMessage(batch, [transfer]);
    this.flushes++;
    this.rowsWritten += rows;
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.closed) this.flushNow();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The next message of the worker, if one is there; write failures are kept for the next call. */
  private receive(): FromWorker | undefined {
    const got = receiveMessageOnPort(this.port);
    if (!got) return undefined;
    const m = got.message as FromWorker;
    if (m.op === 'write-failed') {
      this.lastRefusal = `${this.name} refused a write: ${m.message}`;
      this.failure ??= this.lastRefusal;
    } else this.onNotice(m);
    return m;
  }

  /** Reads what the worker posted on its own (write failures) and throws the first one. */
  protected drainNotices(): void {
    while (this.receive());
    if (this.dead !== undefined && !this.closed) throw new TabmeshError('GCS_UNAVAILABLE', `${this.dead}; nothing reaches ${this.name} any more`);
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

  protected check(): void {
    if (this.closed) throw new TabmeshError('CLOSED', `${this.constructor.name} ${this.name} is closed`);
  }

  private checkTable(table: TableName): void {
    this.check();
    if (!(TABLES as readonly string[]).includes(table)) throw new TabmeshError('BAD_ARGUMENT', `unknown GCS table '${String(table)}'`);
  }
}

const NO_FENCES: ReadonlyMap<string, string> = new Map();
