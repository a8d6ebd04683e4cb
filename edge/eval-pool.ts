// A few worker threads running one CommonJS source given as text (no file on
// disk: works from sources and from dist), called by message: each call
// carries an id `x` the worker posts back when done. Workers start on the
// first call and keep the process alive only while calls are out; one that
// fails fails every call out and the next call starts them again. Used by the
// hash pool (node-hash.ts) and the memory warmer (node-warm.ts).
import { Worker } from 'node:worker_threads';

export class EvalPool {
  private workers: Worker[] = [];
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private nextX = 1;

  constructor(
    private readonly source: string,
    readonly size: number,
    private readonly name: string,
  ) {}

  /** Posts `msg` and the call's id to worker `k` (0 ≤ k < size); settles when the worker answers. */
  call(k: number, msg: Record<string, unknown>): Promise<void> {
    const workers = this.start();
    const x = this.nextX++;
    const done = new Promise<void>((resolve, reject) => this.waiting.set(x, { resolve, reject }));
    workers[k].postMessage({ ...msg, x });
    this.holdOpen();
    return done;
  }

  private start(): Worker[] {
    if (this.workers.length) return this.workers;
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(this.source, { eval: true, name: `${this.name}-${i}` });
      w.on('message', (x: number) => {
        const f = this.waiting.get(x);
        this.waiting.delete(x);
        f?.resolve();
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
