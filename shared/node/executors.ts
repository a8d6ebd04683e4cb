// The node's executors and its local queue: tasks whose arguments are here
// wait in `ready` and go to a free executor. Short tasks of one function go
// in batches (one message for many tasks), like a pool's concurrentTasks.
import type { FromExecutor, RunTask, ToExecutor } from '../executor/protocol.js';
import type { FunctionSource, TaskSpec } from '../protocol/messages.js';
import type { ObjectId, TaskId } from '../ids.js';

/** A platform's executor: a Web Worker or a worker_threads Worker. */
export interface ExecutorHandle {
  post(m: ToExecutor): void;
  terminate(): void;
}

export type SpawnExecutor = (index: number, onMessage: (m: FromExecutor) => void, onExit: (why: string) => void) => ExecutorHandle;

export interface LocalTask {
  spec: TaskSpec;
  args: (Uint8Array | null)[];
  missing: number;
  state: 'resolving' | 'ready' | 'running' | 'ended';
  executor: Executor | null;
  blocked: boolean;
  /** Objects this node holds on the task's behalf (children, puts), released when it ends. */
  holds: ObjectId[];
  timer: unknown;
}

export interface Executor {
  index: number;
  handle: ExecutorHandle;
  /** Tasks dispatched and not blocked in get/wait. Free at 0. */
  active: number;
  tasks: Set<LocalTask>;
  fns: Set<string>;
}

/** Batch short tasks only: below this EWMA run time (ms). */
const BATCH_BELOW_MS = 1;
const MAX_BATCH = 32;

export class LocalScheduler {
  readonly executors: Executor[] = [];
  private ready: LocalTask[] = [];
  private readyHead = 0;
  private readonly ewma = new Map<string, number>();

  constructor(
    private readonly spawn: SpawnExecutor,
    private readonly fnSource: (fnId: string) => FunctionSource | undefined,
    private readonly onMessage: (ex: Executor, m: FromExecutor) => void,
    private readonly onExit: (ex: Executor, why: string) => void,
    private readonly onDispatch: (t: LocalTask) => void,
    readonly count: number,
    private readonly configMsg: () => ToExecutor,
  ) {
    for (let i = 0; i < count; i++) this.executors.push(this.start(i));
  }

  private start(index: number): Executor {
    const ex: Executor = { index, handle: null as unknown as ExecutorHandle, active: 0, tasks: new Set(), fns: new Set() };
    ex.handle = this.spawn(
      index,
      (m) => this.onMessage(ex, m),
      (why) => this.onExit(ex, why),
    );
    ex.handle.post(this.configMsg());
    return ex;
  }

  /** Replaces an executor (after terminate or crash); returns the tasks it had. */
  restart(ex: Executor): LocalTask[] {
    const orphans = [...ex.tasks];
    ex.tasks.clear();
    ex.active = 0;
    try {
      ex.handle.terminate();
    } catch {
      /* already gone */
    }
    this.executors[ex.index] = this.start(ex.index);
    return orphans;
  }

  get queued(): number {
    return this.ready.length - this.readyHead;
  }

  get running(): number {
    let n = 0;
    for (const ex of this.executors) n += ex.tasks.size;
    return n;
  }

  freeExecutor(): Executor | undefined {
    let best: Executor | undefined;
    for (const ex of this.executors) if (ex.active === 0 && (!best || ex.tasks.size < best.tasks.size)) best = ex;
    return best;
  }

  /** Whether a new task would start at once. */
  hasFreeSlot(): boolean {
    return this.queued === 0 && this.freeExecutor() !== undefined;
  }

  enqueue(t: LocalTask, front = false): void {
    t.state = 'ready';
    if (front) {
      if (this.readyHead > 0) this.ready[--this.readyHead] = t;
      else this.ready.unshift(t);
    } else this.ready.push(t);
    this.pump();
  }

  /** Drops a task that has not started. */
  remove(t: LocalTask): boolean {
    if (t.state !== 'ready') return false;
    t.state = 'ended';
    return true;
  }

  recordRun(fnId: string, ms: number): void {
    const e = this.ewma.get(fnId);
    this.ewma.set(fnId, e === undefined ? ms : e + 0.2 * (ms - e));
  }

  pump(): void {
    while (this.readyHead < this.ready.length) {
      const head = this.ready[this.readyHead];
      if (head.state !== 'ready') {
        this.readyHead++;
        continue;
      }
      const ex = this.freeExecutor();
      if (!ex) break;
      const batch = this.takeBatch(head);
      this.dispatch(ex, batch);
    }
    if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.readyHead);
      this.readyHead = 0;
    }
  }

  private takeBatch(head: LocalTask): LocalTask[] {
    this.readyHead++;
    const batch = [head];
    const e = this.ewma.get(head.spec.fnId);
    if (e === undefined || e >= BATCH_BELOW_MS || head.spec.timeoutMs > 0) return batch;
    let free = 0;
    for (const ex of this.executors) if (ex.active === 0) free++;
    const limit = Math.min(MAX_BATCH, Math.ceil(this.queued / Math.max(1, free)) + 1);
    while (batch.length < limit && this.readyHead < this.ready.length) {
      const t = this.ready[this.readyHead];
      if (t.state !== 'ready') {
        this.readyHead++;
        continue;
      }
      if (t.spec.fnId !== head.spec.fnId || t.spec.timeoutMs > 0) break;
      batch.push(t);
      this.readyHead++;
    }
    return batch;
  }

  private dispatch(ex: Executor, batch: LocalTask[]): void {
    const run: RunTask[] = [];
    for (const t of batch) {
      t.state = 'running';
      t.executor = ex;
      ex.tasks.add(t);
      ex.active++;
      const s = t.spec;
      let source: string | undefined;
      if (!ex.fns.has(s.fnId)) {
        source = this.fnSource(s.fnId)?.source;
        ex.fns.add(s.fnId);
      }
      run.push({
        taskId: s.taskId,
        jobId: s.jobId,
        attempt: s.attempt,
        fnId: s.fnId,
        name: s.name,
        source,
        args: t.args as Uint8Array[],
        numReturns: s.numReturns,
      });
      this.onDispatch(t);
    }
    ex.handle.post({ k: 'run', tasks: run });
  }

  /** A task left its executor (ended). */
  release(t: LocalTask): void {
    const ex = t.executor;
    if (!ex) return;
    if (ex.tasks.delete(t) && !t.blocked) ex.active--;
    t.executor = null;
  }

  setBlocked(t: LocalTask, blocked: boolean): void {
    if (t.blocked === blocked || !t.executor) return;
    t.blocked = blocked;
    t.executor.active += blocked ? -1 : 1;
    if (blocked) this.pump();
  }

  terminateAll(): void {
    for (const ex of this.executors) {
      try {
        ex.handle.terminate();
      } catch {
        /* gone */
      }
    }
  }

  byTask(id: TaskId, tasks: Map<TaskId, LocalTask>): LocalTask | undefined {
    return tasks.get(id);
  }
}
