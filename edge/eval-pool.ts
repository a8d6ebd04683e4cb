// A few worker threads running one CommonJS source given as text (no file on
// disk: works from sources and from dist), called by message: each call
// carries an id `x` the worker posts back when done. Workers start on the
// first call and keep the process alive only while calls are out; one that
// fails fails every call out and the next call starts them again. A worker
// answers with the id, or with `{ x, out }` to give the call a value. Used by
// the hash pool (node-hash.ts) and the memory warmer (node-warm.ts). A node
// starts them as it starts (`warm`): booting a worker took 40-180 ms on this
// project's 2-core VMs, and a first transfer that started them waited that long
// with its chunks arrived and unchecked (issue 17, session 22).
import { Worker } from 'node:worker_threads';

/** A worker idle this long after a call collects its heap (IDLE_GC). */
export const IDLE_GC_MS = 1000;

/**
 * Run first in each worker. Calls hand workers SharedArrayBuffers (objects of
 * up to hundreds of MiB); a worker's handle keeps one alive until that worker
 * collects, and an idle worker barely allocates, so it did not: a soak of
 * `tabmesh start` (session 29) had ~250 MiB of freed objects held by each of
 * two such threads, RSS 1 GB, 560 MB once they were made to collect. So a
 * worker collects once it has had no call for IDLE_GC_MS (a full GC of a heap
 * of a few MiB). `gc` is taken as cli/gc.ts takes it (--expose-gc, left
 * on: turning it off could race the coordinator's thread turning it on).
 */
const IDLE_GC = `
{
  const { runInNewContext } = require('node:vm');
  const take = () => runInNewContext('typeof gc === "function" ? gc : null');
  let gc = take();
  if (!gc) {
    require('node:v8').setFlagsFromString('--expose-gc');
    gc = take();
  }
  let idle = null;
  require('node:worker_threads').parentPort.on('message', () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => { idle = null; gc?.(); }, ${IDLE_GC_MS});
    idle.unref();
  });
}
`;

export class EvalPool {
  private workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: (out: unknown) => void; reject: (e: Error) => void }>();
  private nextX = 1;
  /** Workers that started running (their source loaded). */
  private readonly up = new WeakSet<Worker>();

  constructor(
    private readonly source: string,
    readonly size: number,
    private readonly name: string,
  ) {}

  /** How many workers are up (started and running their source). */
  get online(): number {
    return this.workers.filter((w) => this.up.has(w)).length;
  }

  /** Starts the workers now, if they are not up, so the first call does not wait for them. */
  warm(): void {
    this.start();
  }

  /** Posts `msg` and the call's id to worker `k` (0 ≤ k < size); settles when the worker answers, with its `out` if it gave one. */
  call(k: number, msg: Record<string, unknown>): Promise<unknown> {
    const workers = this.start();
    const x = this.nextX++;
    const done = new Promise<unknown>((resolve, reject) => this.waiting.set(x, { resolve, reject }));
    workers[k].postMessage({ ...msg, x });
    this.holdOpen();
    return done;
  }

  private start(): Worker[] {
    if (this.workers.length) return this.workers;
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(IDLE_GC + this.source, { eval: true, name: `${this.name}-${i}` });
      w.once('online', () => this.up.add(w));
      w.on('message', (m: number | { x: number; out: unknown }) => {
        const x = typeof m === 'number' ? m : m.x;
        const f = this.waiting.get(x);
        this.waiting.delete(x);
        f?.resolve(typeof m === 'number' ? undefined : m.out);
        this.holdOpen();
      });
      w.on('error', (e) => this.fail(e));
      w.unref();
      this.workers.push(w);
    }
    return this.workers;
  }

  /** Workers keep the process alive only while they have work. */
  private holdOpen(): void {
    for (const w of this.workers) {
      if (this.waiting.size > 0) w.ref();
      else w.unref();
    }
  }

  private fail(e: Error): void {
    const old = this.workers;
    this.workers = [];
    for (const w of old) void w.terminate();
    for (const f of this.waiting.values()) f.reject(e);
    this.waiting.clear();
  }
}
