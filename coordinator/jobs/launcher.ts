// Job processes started by a thread of their own (launch-worker.ts says why): the coordinator's side. One thread a
// runner, started with the first job and ended with the runner; each job process is a JobProcess here, with the
// few parts of a ChildProcess the runner uses (its IPC messages, output, exit, kill).
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromLauncher, ToLauncher } from './launcher-protocol.js';

/** A file of coordinator/jobs that is started by path: beside this one when built, else (vitest runs sources) in dist/. */
export function jobsFile(name: string): string {
  const here = fileURLToPath(new URL(`./${name}`, import.meta.url));
  if (existsSync(here)) return here;
  const built = fileURLToPath(new URL(`../../dist/coordinator/jobs/${name}`, import.meta.url));
  if (existsSync(built)) return built;
  throw new Error(`coordinator/jobs/${name} not found: run \`npm run build\` first`);
}

/** A job's process as the runner sees it: events 'message' (its IPC), 'out' and 'err' (its output), 'error', 'close'. */
export class JobProcess extends EventEmitter<{
  message: [unknown];
  out: [string];
  err: [string];
  error: [Error];
  close: [number | null, NodeJS.Signals | null];
}> {
  /** 0 until the launcher thread has forked it. */
  pid = 0;
  closed = false;

  constructor(
    private readonly launcher: JobLauncher,
    readonly id: number,
  ) {
    super();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.closed) this.launcher.post({ k: 'kill', id: this.id, signal });
  }
}

export class JobLauncher {
  private worker: Worker | null = null;
  private readonly procs = new Map<number, JobProcess>();
  private nextId = 1;
  /** Closed with the runner: a late kill (a succeeded job's, 2 s on) must not start the thread again. */
  private closed = false;
  /** Processes asked for (tests: none was forked on the coordinator's thread). */
  started = 0;

  /** Forks `file` (with V8 flags `execArgv`) on the launcher thread and sends it `first`. */
  start(file: string, execArgv: string[], first: unknown): JobProcess {
    const p = new JobProcess(this, this.nextId++);
    this.procs.set(p.id, p);
    this.started++;
    if (this.closed) {
      // The runner closed (its coordinator stops): the job fails to start, as its process would have gone at once.
      queueMicrotask(() => this.lost('the coordinator is closing'));
      return p;
    }
    this.post({ k: 'start', id: p.id, file, execArgv, first });
    return p;
  }

  post(m: ToLauncher): void {
    if (this.closed) return;
    this.thread().postMessage(m);
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(jobsFile('launch-worker.js'), { name: 'job-launcher' });
    // Neither the thread nor a job keeps the coordinator's process up (a job's process is stopped when it goes).
    w.unref();
    w.on('message', (m: FromLauncher) => this.onMessage(m));
    w.on('error', (e) => this.lost(`the job launcher thread failed: ${e.message}`));
    w.on('exit', () => {
      if (this.worker === w) this.worker = null;
      this.lost('the job launcher thread exited');
    });
    this.worker = w;
    return w;
  }

  private onMessage(m: FromLauncher): void {
    const p = this.procs.get(m.id);
    if (!p) return;
    switch (m.k) {
      case 'spawned':
        p.pid = m.pid;
        return;
      case 'message':
        p.emit('message', m.m);
        return;
      case 'out':
        p.emit('out', m.text);
        return;
      case 'err':
        p.emit('err', m.text);
        return;
      case 'error':
        p.emit('error', new Error(m.message));
        return;
      case 'close':
        this.procs.delete(m.id);
        p.closed = true;
        p.emit('close', m.code, m.signal);
    }
  }

  /** The thread went (or was closed): its processes are gone with their IPC channels (worker.ts exits on 'disconnect'). */
  private lost(why: string): void {
    for (const p of this.procs.values()) {
      p.closed = true;
      if (p.listenerCount('error') > 0) p.emit('error', new Error(why));
      p.emit('close', null, null);
    }
    this.procs.clear();
  }

  /** Stops every job process and the thread. */
  close(): void {
    this.closed = true;
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    this.procs.clear();
    w.removeAllListeners();
    w.postMessage({ k: 'close' } satisfies ToLauncher);
  }
}
